package controller

import (
	"sync"

	"github.com/smi-adapter/smi-adapter/core/model"
)

// Enqueuer lets a backend, built before the controller, enqueue keys; keys
// added before the controller starts are kept until it does.
type Enqueuer struct {
	mu      sync.Mutex
	q       interface{ Add(model.Key) }
	pending []model.Key
}

// Add enqueues key.
func (e *Enqueuer) Add(key model.Key) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.q == nil {
		e.pending = append(e.pending, key)
		return
	}
	e.add(key)
}

func (e *Enqueuer) add(key model.Key) {
	if q, ok := e.q.(queue); ok {
		enqueue(q, key) // raises a new grant waiting behind the others
		return
	}
	e.q.Add(key)
}

func (e *Enqueuer) connect(q interface{ Add(model.Key) }) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.q = q
	for _, k := range e.pending {
		e.add(k)
	}
	e.pending = nil
}
