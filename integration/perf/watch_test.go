package perf

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// observed is one change the benchmark saw, stamped when it arrived: a
// Kubernetes watch event or a Consul blocking query's answer.
type observed struct {
	kind    string // "Kind" (Kubernetes) or "consul/<entry kind>"
	name    string // ns/name, or the entry's name
	deleted bool
	obj     map[string]any // the object (Kubernetes) or the entry (Consul)
	at      time.Time
}

// tracker holds the state its watches reported. Only the goroutine that
// waits (await) applies events, so the state is the sampler's alone and an
// event is never applied twice or out of order.
type tracker struct {
	// current is the arrival time of the event being applied (for the
	// conditions await checks).
	current time.Time
	events  chan observed
	state   map[string]map[string]map[string]any // kind -> name -> object
	cancel  context.CancelFunc
	errs    chan error
}

func newTracker() (*tracker, context.Context) {
	ctx, cancel := context.WithCancel(context.Background())
	return &tracker{events: make(chan observed, 1<<16), state: map[string]map[string]map[string]any{}, cancel: cancel, errs: make(chan error, 16)}, ctx
}

func (t *tracker) stop() { t.cancel() }

// watchKube watches one kind in a namespace ("" for all) and sends every
// event to the tracker, from the list's resourceVersion on (the list itself
// is sent first, stamped with the time it arrived).
func (t *tracker) watchKube(ctx context.Context, dyn dynamic.Interface, gvk schema.GroupVersionKind, namespace string) error {
	gvr := gvk.GroupVersion().WithResource(plural(gvk.Kind))
	ri := dyn.Resource(gvr).Namespace(namespace)
	list, err := ri.List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list %s: %w", gvk.Kind, err)
	}
	now := time.Now()
	for _, o := range list.Items {
		t.events <- observed{kind: gvk.Kind, name: o.GetNamespace() + "/" + o.GetName(), obj: o.Object, at: now}
	}
	rv := list.GetResourceVersion()
	go func() {
		for ctx.Err() == nil {
			w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				if ctx.Err() == nil {
					t.errs <- fmt.Errorf("watch %s: %w", gvk.Kind, err)
				}
				return
			}
			for ev := range w.ResultChan() {
				at := time.Now()
				o, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue // a Status: the watch ends and is started again from rv
				}
				rv = o.GetResourceVersion()
				if ev.Type == watch.Bookmark {
					continue
				}
				t.events <- observed{kind: gvk.Kind, name: o.GetNamespace() + "/" + o.GetName(), deleted: ev.Type == watch.Deleted, obj: o.Object, at: at}
			}
			w.Stop()
		}
	}()
	return nil
}

// plural is the resource of the kinds the benchmarks watch.
func plural(kind string) string {
	k := strings.ToLower(kind)
	if strings.HasSuffix(k, "y") {
		return k[:len(k)-1] + "ies"
	}
	return k + "s"
}

// watchConsul follows one config entry with Consul's blocking queries (the
// agent answers when the entry changes), sending each new state.
func (t *tracker) watchConsul(ctx context.Context, addr, kind, name string) {
	go func() {
		index := "0"
		for ctx.Err() == nil {
			url := fmt.Sprintf("http://%s/v1/config/%s/%s?index=%s&wait=30s", addr, kind, name, index)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					t.errs <- fmt.Errorf("consul %s/%s: %w", kind, name, err)
				}
				return
			}
			at := time.Now()
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			next := resp.Header.Get("X-Consul-Index")
			if n, err := strconv.ParseUint(next, 10, 64); err != nil || n == 0 {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			if next == index {
				continue // the wait ran out with no change
			}
			index = next
			ev := observed{kind: "consul/" + kind, name: name, at: at}
			if resp.StatusCode == http.StatusNotFound {
				ev.deleted = true
			} else if err := json.Unmarshal(raw, &ev.obj); err != nil {
				t.errs <- fmt.Errorf("consul %s/%s: %s: %w", kind, name, resp.Status, err)
				return
			}
			t.events <- ev
		}
	}()
}

func (t *tracker) apply(ev observed) {
	m := t.state[ev.kind]
	if m == nil {
		m = map[string]map[string]any{}
		t.state[ev.kind] = m
	}
	if ev.deleted {
		delete(m, ev.name)
	} else {
		m[ev.name] = ev.obj
	}
}

// drain applies the events that have arrived, without waiting.
func (t *tracker) drain() {
	for {
		select {
		case ev := <-t.events:
			t.apply(ev)
		default:
			return
		}
	}
}

// await applies events until pred holds and returns the arrival time of the
// event that made it hold.
func (t *tracker) await(what string, timeout time.Duration, pred func(*tracker) bool) (time.Time, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case ev := <-t.events:
			t.apply(ev)
			t.current = ev.at
			if pred(t) {
				return ev.at, nil
			}
		case err := <-t.errs:
			return time.Time{}, err
		case <-deadline.C:
			return time.Time{}, fmt.Errorf("%s: not seen within %s", what, timeout)
		}
	}
}

// objects of a kind, by name.
func (t *tracker) objects(kind string) map[string]map[string]any { return t.state[kind] }

// anyJSONContains: some object of kind holds needle in its JSON.
func (t *tracker) anyJSONContains(kind, needle string) bool {
	for _, o := range t.state[kind] {
		raw, _ := json.Marshal(o)
		if strings.Contains(string(raw), needle) {
			return true
		}
	}
	return false
}

// percentiles of samples: p50, p90, p99 and max (nearest rank).
type percentiles struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(samples []time.Duration) percentiles {
	if len(samples) == 0 {
		return percentiles{}
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return percentiles{n: len(s), p50: rank(0.50), p90: rank(0.90), p99: rank(0.99), max: s[len(s)-1]}
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "—"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}
