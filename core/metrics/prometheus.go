package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	prommodel "github.com/prometheus/common/model"
)

// Prometheus queries a Prometheus server's HTTP API.
type Prometheus struct {
	api     promv1.API
	address string
	timeout time.Duration
}

// NewPrometheus returns a Querier for the server at address (http://host:port).
func NewPrometheus(address string, timeout time.Duration) (*Prometheus, error) {
	c, err := promapi.NewClient(promapi.Config{Address: address, RoundTripper: http.DefaultTransport})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &Prometheus{api: promv1.NewAPI(c), address: address, timeout: timeout}, nil
}

// Query runs an instant query. A server that cannot be reached, times out or
// fails is ErrUnavailable; a query Prometheus rejects is a plain error (a bug).
func (p *Prometheus) Query(ctx context.Context, q string, at time.Time) (prommodel.Vector, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, _, err := p.api.Query(ctx, q, at, promv1.WithTimeout(p.timeout))
	if err != nil {
		var perr *promv1.Error
		if errors.As(err, &perr) && perr.Type == promv1.ErrBadData {
			return nil, fmt.Errorf("query %q: %w", q, err)
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, p.address, err)
	}
	vec, ok := v.(prommodel.Vector)
	if !ok {
		return nil, fmt.Errorf("query %q: got %s, want a vector", q, v.Type())
	}
	return vec, nil
}
