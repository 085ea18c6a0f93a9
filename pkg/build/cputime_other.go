//go:build !unix

package build

import "time"

// cpuTime is not available here: steps report no CPU time.
func cpuTime() time.Duration { return -1 }
