//go:build tools

// Package consultools pins the consul command for the test harness.
package consultools

import _ "github.com/hashicorp/consul/command"
