package apis

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Document is one decoded object of a YAML stream and where it came from.
type Document struct {
	Object runtime.Object
	GVK    schema.GroupVersionKind
	Index  int // position in the stream, from 0
}

// DecodeYAML decodes a multi-document YAML (or JSON) stream into typed objects
// of the scheme. Decoding is strict: an unknown or duplicate field is an error,
// so a typo never silently drops a rule. Empty documents are skipped.
func DecodeYAML(s *runtime.Scheme, r io.Reader) ([]Document, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var out []Document
	for i := 0; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(raw))) == 0 {
			continue
		}
		var tm struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			return out, fmt.Errorf("document %d: %w", i, err)
		}
		gv, err := schema.ParseGroupVersion(tm.APIVersion)
		if err != nil {
			return out, fmt.Errorf("document %d: apiVersion: %w", i, err)
		}
		gvk := gv.WithKind(tm.Kind)
		obj, err := s.New(gvk)
		if err != nil {
			return out, fmt.Errorf("document %d: unsupported kind %s", i, gvk)
		}
		if err := yaml.UnmarshalStrict(raw, obj); err != nil {
			return out, fmt.Errorf("document %d (%s): %w", i, gvk.Kind, err)
		}
		obj.GetObjectKind().SetGroupVersionKind(gvk)
		out = append(out, Document{Object: obj, GVK: gvk, Index: i})
	}
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) == 0 || t[0] == '#' {
			continue
		}
		out = append(out, line)
	}
	return bytes.Join(out, []byte("\n"))
}
