// Package spf parses SPF records and evaluates check_host() (RFC 7208) as
// a receiver would, within the RFC's limits: 10 DNS-querying terms, 2 void
// lookups, 10 MX hosts per mx mechanism, 10 names per ptr mechanism. It is
// the one SPF implementation of mailscope: the domain collector checks a
// domain's record and its sending IPs with it, and the reports collector
// asks it which term of a domain's record lets a report's source address
// pass. It asks DNS through a Resolver (the agent's dnsx client) and keeps
// no state between evaluations.
package spf
