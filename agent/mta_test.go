package agent

// The real mta collector is registered beside the fake ones, so the
// invalid-config goldens (testdata/invalid-mta.yml) check its section as
// check-config does, and the zero-config test sees its proposal.
import _ "github.com/mailscope/mailscope/collectors/mtalog"
