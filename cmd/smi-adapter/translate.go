package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/hashicorp/go-multierror"
	goyaml "go.yaml.in/yaml/v2"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/smi-adapter/smi-adapter/adapters/consul"
	"github.com/smi-adapter/smi-adapter/core/apis"
	"github.com/smi-adapter/smi-adapter/core/backend"
	"github.com/smi-adapter/smi-adapter/core/controller"
	"github.com/smi-adapter/smi-adapter/core/model"
	"github.com/smi-adapter/smi-adapter/core/normalize"
	"github.com/smi-adapter/smi-adapter/core/parallel"
)

// batchGC lets translate, a short batch that keeps most of what it
// allocates until it prints, collect garbage four times less often (GOGC=400)
// unless GOGC says otherwise: about 15% faster on 10,000 objects, for a
// larger peak heap.
func batchGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// errInvalid makes the exit code 1 after diagnostics were printed.
var errInvalid = errors.New("invalid input")

// translate renders, with no cluster, the native resources the controller
// would write for the SMI objects given: the same conversion, normalization
// and backend translation. Diagnostics go to stderr; invalid input exits 1;
// with --strict, so does anything the mesh cannot express (fail closed).
func translate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("translate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		backendName, output, namespace, outDir string
		strict                                 bool
		files                                  multiFlag
		settings                               = kvFlag{}
	)
	fs.StringVar(&backendName, "backend", "", "mesh backend (required)")
	fs.Var(&files, "f", "file, directory or - for stdin (repeatable)")
	fs.StringVar(&output, "o", "yaml", "output format: yaml or json")
	fs.StringVar(&namespace, "namespace", "default", "namespace of objects that name none")
	fs.StringVar(&outDir, "output-dir", "", "write one file per object into this directory, numbered in apply order (Consul: -o json gives files `consul config write` takes)")
	fs.BoolVar(&strict, "strict", false, "fail (exit 1) when the mesh cannot express an SMI rule and the backend failed closed")
	fs.Var(settings, "backend-opt", "backend setting key=value (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if output != "yaml" && output != "json" {
		return fmt.Errorf("-o: %q is neither yaml nor json", output)
	}
	if len(files) == 0 {
		return errors.New("-f is required")
	}
	reg := backends()
	be, err := reg.New(backendName, backend.Options{Settings: settings})
	if err != nil {
		return err
	}
	tr, ok := be.(backend.Translator)
	if !ok {
		return fmt.Errorf("backend %s cannot translate offline", backendName)
	}
	scheme, err := controller.NewScheme()
	if err != nil {
		return err
	}
	var objs []runtime.Object
	invalid := false
	for _, f := range files {
		more, bad, err := readInputs(scheme, f, stdin)
		if err != nil {
			return err
		}
		// One bad object is reported with its file and translated around:
		// every other object still is, and the exit code is 1.
		for _, b := range bad {
			fmt.Fprintf(stderr, "error: %v\n", b)
			invalid = true
		}
		objs = append(objs, more...)
	}
	mem, err := normalize.NewMemory(namespace, objs...)
	if err != nil {
		return err
	}

	// Keys are independent (normalize and translation are pure): on every
	// core, reported in key order.
	type keyOut struct {
		problems, more model.Problems
		objects        []runtime.Object
	}
	build := normalize.Options{IdentitiesElsewhere: backend.IdentitiesElsewhere(be)}
	outs, _ := parallel.Map(append(mem.Keys(), model.MeshKey), func(_ int, k model.Key) (keyOut, error) {
		slice, problems := build.Build(k, mem)
		if k.Kind == model.KeyRoute {
			return keyOut{problems: problems}, nil
		}
		objects, more := tr.Translate(slice)
		return keyOut{problems, more, objects}, nil
	})
	failedClosed := false
	var out []runtime.Object
	for _, o := range outs {
		invalid = report(stderr, o.problems, "") || invalid
		failedClosed = report(stderr, o.more, backendName+": ") || failedClosed
		out = append(out, o.objects...)
	}
	if outDir != "" {
		err = writeDir(outDir, out, output)
	} else {
		err = write(stdout, out, output)
	}
	if err != nil {
		return err
	}
	if invalid || (strict && failedClosed) {
		return errInvalid
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

// readInputs decodes a file, every *.yaml/*.yml/*.json of a directory, or
// stdin. SMI objects are converted to their hubs; Deployments, StatefulSets
// and DaemonSets stand for one pod of their template (workload selection).
// A document that cannot be decoded or converted is one of bad, named by its
// file and object; err is for a file that cannot be read.
func readInputs(scheme *runtime.Scheme, path string, stdin io.Reader) (out []runtime.Object, bad []error, err error) {
	var sources []string
	if path == "-" {
		sources = []string{"-"}
	} else if st, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if st.IsDir() {
		for _, ext := range []string{"*.yaml", "*.yml", "*.json"} {
			m, _ := filepath.Glob(filepath.Join(path, ext))
			sources = append(sources, m...)
		}
		sort.Strings(sources)
	} else {
		sources = []string{path}
	}
	for _, src := range sources {
		var data []byte
		if src == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(src)
		}
		if err != nil {
			return nil, nil, err
		}
		docs, err := apis.DecodeYAML(scheme, bytes.NewReader(data))
		if me := (*multierror.Error)(nil); errors.As(err, &me) {
			for _, e := range me.Errors {
				bad = append(bad, fmt.Errorf("%s: %w", src, e))
			}
		} else if err != nil {
			bad = append(bad, fmt.Errorf("%s: %w", src, err))
		}
		for _, d := range docs {
			switch o := d.Object.(type) {
			case *corev1.Service, *corev1.Pod:
				out = append(out, o)
			case *appsv1.Deployment:
				out = append(out, templatePod(o.ObjectMeta, o.Spec.Template))
			case *appsv1.StatefulSet:
				out = append(out, templatePod(o.ObjectMeta, o.Spec.Template))
			case *appsv1.DaemonSet:
				out = append(out, templatePod(o.ObjectMeta, o.Spec.Template))
			default:
				if d.GVK.Group == "" || apis.HubVersions[d.GVK.Group] == "" {
					fmt.Fprintf(os.Stderr, "%s: document %d: %s ignored\n", src, d.Index, d.GVK.Kind)
					continue
				}
				hub, err := apis.ToHub(scheme, d.Object, d.GVK)
				if err != nil {
					m, _ := d.Object.(metav1.Object)
					bad = append(bad, fmt.Errorf("%s: %w", src, &apis.DocumentError{Index: d.Index, Kind: d.GVK.Kind,
						Namespace: m.GetNamespace(), Name: m.GetName(), Err: err}))
					continue
				}
				out = append(out, hub)
			}
		}
	}
	return out, bad, nil
}

func templatePod(owner metav1.ObjectMeta, t corev1.PodTemplateSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: owner.Namespace, Name: owner.Name + "-template", Labels: t.Labels},
		Spec:       t.Spec,
	}
}

// report prints diagnostics, sorted, and says whether any was an error.
func report(w io.Writer, p model.Problems, prefix string) bool {
	refs := make([]model.ObjectRef, 0, len(p))
	for r := range p {
		refs = append(refs, r)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].String() < refs[j].String() })
	anyErr := false
	for _, r := range refs {
		for _, d := range p.Diagnostics(r) {
			anyErr = anyErr || d.Severity == model.SeverityError
			fmt.Fprintf(w, "%s%s: %s %s: %s\n", prefix, strings.ToLower(string(d.Severity)), r, d.Reason, d.Error())
		}
	}
	return anyErr
}

type keyed struct {
	key string
	obj runtime.Object
}

// write prints the objects: a YAML stream, or a JSON List.
func write(w io.Writer, objs []runtime.Object, format string) error {
	items, err := render(objs, format == "json")
	if err != nil {
		return err
	}
	if format == "json" {
		return writeJSONList(w, items)
	}
	ys, err := toYAML(items)
	if err != nil {
		return err
	}
	for _, y := range ys {
		if _, err := fmt.Fprintf(w, "---\n%s", y); err != nil {
			return err
		}
	}
	return nil
}

// writeJSONList prints the items as an indented v1 List, item by item (what
// json.MarshalIndent prints for the whole list, without re-reading it).
func writeJSONList(w io.Writer, items []rendered) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if len(items) == 0 {
		bw.WriteString("{\n  \"apiVersion\": \"v1\",\n  \"items\": [],\n  \"kind\": \"List\"\n}\n")
		return bw.Flush()
	}
	bw.WriteString("{\n  \"apiVersion\": \"v1\",\n  \"items\": [\n")
	var buf bytes.Buffer
	for i, it := range items {
		buf.Reset()
		if err := json.Indent(&buf, it.json, "    ", "  "); err != nil {
			return err
		}
		bw.WriteString("    ")
		bw.Write(buf.Bytes())
		if i < len(items)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("  ],\n  \"kind\": \"List\"\n}\n")
	return bw.Flush()
}

// toYAML converts the items on every core, in order.
func toYAML(items []rendered) ([][]byte, error) {
	out, errs := parallel.Map(items, func(_ int, it rendered) ([]byte, error) { return printYAML(it.value) })
	return out, errors.Join(errs...)
}

// printYAML prints a decoded JSON value as YAML with the library
// sigs.k8s.io/yaml prints with (go.yaml.in/yaml/v2), giving the same bytes
// as its JSONToYAML: numbers become the ints and floats its parser makes of
// JSON numbers. It skips JSONToYAML's second parse of the JSON text, which
// took half of translate's time (TestPrintYAMLIsJSONToYAML keeps them equal).
func printYAML(v any) ([]byte, error) {
	return goyaml.Marshal(yamlValue(v))
}

func yamlValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = yamlValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = yamlValue(e)
		}
		return out
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return string(x)
	}
	return v
}

// writeDir writes one file per object, numbered in the order to apply them
// (Consul: service-defaults before the entries that need them).
func writeDir(dir string, objs []runtime.Object, format string) error {
	items, err := render(objs, format == "json")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, it := range items {
		b := it.json
		if format == "json" {
			var buf bytes.Buffer
			if err := json.Indent(&buf, it.json, "", "  "); err != nil {
				return err
			}
			b = append(buf.Bytes(), '\n')
		} else if b, err = printYAML(it.value); err != nil {
			return err
		}
		name := fmt.Sprintf("%02d-%s.%s", i+1, it.name, format)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

type rendered struct {
	name  string         // kind-namespace-name, lower case
	json  []byte         // when asked for
	value map[string]any // the object, decoded (numbers as json.Number)
}

// render sorts and de-duplicates the objects and drops what only a cluster
// fills in; withJSON also encodes each as JSON.
func render(objs []runtime.Object, withJSON bool) ([]rendered, error) {
	var list []keyed
	seen := map[string]bool{}
	names := map[string]string{}
	for _, o := range objs {
		var key, name string
		if m, ok := o.(metav1.Object); ok {
			key = o.GetObjectKind().GroupVersionKind().Kind + "/" + m.GetNamespace() + "/" + m.GetName()
			name = strings.ToLower(o.GetObjectKind().GroupVersionKind().Kind + "-" + m.GetNamespace() + "-" + m.GetName())
		} else if ce, ok := o.(*consul.ConfigEntry); ok {
			key = consul.Order(ce.Entry) + "/" + consul.EntryID(ce.Entry)
			name = ce.Entry.GetKind() + "-" + strings.TrimPrefix(ce.Entry.GetNamespace()+"-", "-") + ce.Entry.GetName()
		}
		names[key] = strings.ReplaceAll(name, "*", "all")
		if seen[key] {
			continue // shared entries (Consul service-defaults) wanted by several keys
		}
		seen[key] = true
		list = append(list, keyed{key, o})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
	items, errs := parallel.Map(list, func(_ int, k keyed) (rendered, error) {
		b, err := json.Marshal(k.obj)
		if err != nil {
			return rendered{}, err
		}
		var m map[string]any
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&m); err != nil {
			return rendered{}, err
		}
		delete(m, "status")
		delete(m, "CreateIndex")
		delete(m, "ModifyIndex")
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "creationTimestamp")
		}
		r := rendered{name: names[k.key], value: m}
		if withJSON {
			r.json, err = json.Marshal(m)
		}
		return r, err
	})
	return items, errors.Join(errs...)
}
