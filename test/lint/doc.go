// Package lint holds the module's source-text checks that go vet and
// staticcheck cannot express: each is a test that reads the module's own
// files and fails on a violation, with a test of its own that it catches
// each case. scripts/test.sh and `make lint` run them.
//
//   - offline_test.go: no test can reach a real resolver or blocklist
//     through a production default (NewConfig, OnDemandConfig, a
//     dnsx.Config without Servers, `probe dnsbl` without --resolver, an
//     agent config's dnsbl section).
//   - imports_test.go: the package layout of docs/architecture.md (no
//     collector imports another; no package of a collector imports its
//     parent; collectors and internal packages stay below the agent).
package lint
