package apis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-multierror"
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
//
// One bad document does not hide the others: every document that decodes is
// returned, in stream order, and the errors of the others are gathered (a
// *multierror.Error of *DocumentError) — a caller that must have every
// object treats any error as fatal, one that reports and goes on (translate)
// uses the rest.
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
			readErr = &DocumentError{Index: len(raws), Err: err}
			break
		}
		raws = append(raws, raw)
	}
	// Documents are independent: decode them on every core, keep their order.
	docs, errs := parallel.Map(raws, func(i int, raw []byte) (*Document, error) { return decodeOne(s, raw, i) })
	var out []Document
	var all *multierror.Error
	for i := range raws {
		if errs[i] != nil {
			all = multierror.Append(all, errs[i])
			continue
		}
		if docs[i] != nil {
			out = append(out, *docs[i])
		}
	}
	if readErr != nil {
		all = multierror.Append(all, readErr)
	}
	if all != nil {
		all.ErrorFormat = documentErrors
	}
	return out, all.ErrorOrNil()
}

// DocumentError is why one document of a stream could not be decoded or
// converted, with the object it names where that could be read.
type DocumentError struct {
	Index     int    // position in the stream, from 0
	Kind      string // as the document says, when it could be read
	Namespace string
	Name      string
	Err       error
}

func (e *DocumentError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %d", e.Index)
	if e.Kind != "" || e.Name != "" {
		b.WriteString(" (")
		b.WriteString(e.Kind)
		if e.Name != "" {
			b.WriteString(" ")
			if e.Namespace != "" {
				b.WriteString(e.Namespace + "/")
			}
			b.WriteString(e.Name)
		}
		b.WriteString(")")
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *DocumentError) Unwrap() error { return e.Err }

// documentErrors lists a stream's document errors one per line.
func documentErrors(errs []error) string {
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "; ")
}

// decodeOne decodes document i; nil for an empty document.
func decodeOne(s *runtime.Scheme, raw []byte, i int) (*Document, error) {
	if onlyComments(raw) {
		return nil, nil
	}
	// One parse: YAML (JSON passes through) to JSON, duplicate keys refused.
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, &DocumentError{Index: i, Err: err}
	}
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, &DocumentError{Index: i, Err: err}
	}
	fail := func(err error) (*Document, error) {
		return nil, &DocumentError{Index: i, Kind: tm.Kind, Namespace: tm.Metadata.Namespace, Name: tm.Metadata.Name, Err: err}
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return fail(fmt.Errorf("apiVersion: %w", err))
	}
	gvk := gv.WithKind(tm.Kind)
	obj, err := s.New(gvk)
	if err != nil {
		return fail(fmt.Errorf("unsupported kind %s", gvk))
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err == nil && len(strict) > 0 {
		err = errors.Join(strict...)
	}
	if err != nil {
		return fail(err)
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
