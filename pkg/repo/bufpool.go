package repo

import "sync"

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func getCopyBuf() *[]byte  { return copyBufs.Get().(*[]byte) }
func putCopyBuf(b *[]byte) { copyBufs.Put(b) }
