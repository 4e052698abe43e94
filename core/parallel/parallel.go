// Package parallel runs independent work on every core and keeps its order.
package parallel

import (
	"runtime"
	"sync"
)

// Map applies f to every element of in on GOMAXPROCS workers and returns the
// results and errors in the order of in.
func Map[T, R any](in []T, f func(int, T) (R, error)) ([]R, []error) {
	out := make([]R, len(in))
	errs := make([]error, len(in))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = f(i, in[i])
			}
		}()
	}
	for i := range in {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errs
}
