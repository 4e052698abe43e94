//go:build tools

// Package etcdtools pins the etcd server command for the test harness.
package etcdtools

import _ "go.etcd.io/etcd/server/v3/etcdmain"
