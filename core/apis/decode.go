package apis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/smi-adapter/smi-adapter/core/parallel"
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
	var raws [][]byte
	var readErr error
	for {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = fmt.Errorf("document %d: %w", len(raws), err)
			break
		}
		raws = append(raws, raw)
	}
	// Documents are independent: decode them on every core, keep their order.
	docs, errs := parallel.Map(raws, func(i int, raw []byte) (*Document, error) { return decodeOne(s, raw, i) })
	var out []Document
	for i := range raws {
		if errs[i] != nil {
			return out, errs[i]
		}
		if docs[i] != nil {
			out = append(out, *docs[i])
		}
	}
	return out, readErr
}

// decodeOne decodes document i; nil for an empty document.
func decodeOne(s *runtime.Scheme, raw []byte, i int) (*Document, error) {
	if onlyComments(raw) {
		return nil, nil
	}
	// One parse: YAML (JSON passes through) to JSON, duplicate keys refused.
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, fmt.Errorf("document %d: %w", i, err)
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, fmt.Errorf("document %d: %w", i, err)
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, fmt.Errorf("document %d: apiVersion: %w", i, err)
	}
	gvk := gv.WithKind(tm.Kind)
	obj, err := s.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("document %d: unsupported kind %s", i, gvk)
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, fmt.Errorf("document %d (%s): %w", i, gvk.Kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return &Document{Object: obj, GVK: gvk, Index: i}, nil
}

// onlyComments: the document has nothing but blank and comment lines.
func onlyComments(b []byte) bool {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}
