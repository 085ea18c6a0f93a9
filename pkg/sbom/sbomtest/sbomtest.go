// Package sbomtest validates SBOM documents against the official CycloneDX
// 1.6 and SPDX 2.3 JSON schemas kept in testdata/inventory/schema, without
// network access. It is meant for tests only.
package sbomtest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rpmforge/rpmforge/pkg/sbom"
)

// Schema $ids, as the documents reference them.
const (
	CycloneDXSchemaID = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	SPDXSchemaID      = "http://spdx.org/rdf/terms/2.3"
)

var resources = map[string]string{
	CycloneDXSchemaID: "bom-1.6.schema.json",
	"http://cyclonedx.org/schema/spdx.schema.json":     "spdx.schema.json",
	"http://cyclonedx.org/schema/jsf-0.82.schema.json": "jsf-0.82.schema.json",
	SPDXSchemaID: "spdx-2.3.schema.json",
}

var (
	once    sync.Once
	schemas map[sbom.Format]*jsonschema.Schema
	loadErr error
)

// SchemaDir is testdata/inventory/schema of this checkout.
func SchemaDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "inventory", "schema")
}

func load() {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for id, file := range resources {
		data, err := os.ReadFile(filepath.Join(SchemaDir(), file))
		if err != nil {
			loadErr = fmt.Errorf("sbomtest: %w", err)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			loadErr = fmt.Errorf("sbomtest: %s: %w", file, err)
			return
		}
		if err := c.AddResource(id, doc); err != nil {
			loadErr = fmt.Errorf("sbomtest: %s: %w", file, err)
			return
		}
	}
	schemas = map[sbom.Format]*jsonschema.Schema{}
	for f, id := range map[sbom.Format]string{sbom.CycloneDX: CycloneDXSchemaID, sbom.SPDX: SPDXSchemaID} {
		s, err := c.Compile(id)
		if err != nil {
			loadErr = fmt.Errorf("sbomtest: compiling %s: %w", id, err)
			return
		}
		schemas[f] = s
	}
}

// Validate checks a JSON document against the official schema of its format.
func Validate(f sbom.Format, data []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("sbomtest: not JSON: %w", err)
	}
	if err := schemas[f].Validate(inst); err != nil {
		return fmt.Errorf("sbomtest: %s document does not validate: %w", f, err)
	}
	return nil
}
