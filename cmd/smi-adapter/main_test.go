package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUnknownBackendIsAnErrorNotAFallback(t *testing.T) {
	var out bytes.Buffer
	err := runMain(context.Background(), []string{"run", "--backend=nosuchmesh"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), `unknown backend "nosuchmesh"`) {
		t.Fatalf("want an unknown-backend error, got %v", err)
	}
}

func TestBackendIsRequired(t *testing.T) {
	var out bytes.Buffer
	err := runMain(context.Background(), []string{"run"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--backend is required") {
		t.Fatalf("got %v", err)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if err := runMain(context.Background(), []string{"version"}, &out, &out); err != nil || strings.TrimSpace(out.String()) != "dev" {
		t.Fatalf("version: %q %v", out.String(), err)
	}
}
