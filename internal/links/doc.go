// Package links carries what one collector learns for another. Each link
// is a typed, bounded channel for one purpose, which the agent creates
// once (so a reload keeps what it holds) and hands to the collectors at
// its two ends through collectors.Settings; no collector imports another.
//
//   - Bounces: the seeds collector watches the Message-IDs of the messages
//     it sent; the MTA log pipeline reports, of the messages its server
//     bounced or expired, only those watched. Bounded by the seeds in
//     flight, so no other traffic can push a seed's bounce out.
//   - SendingIPs: the seeds collector adds the addresses receivers saw its
//     messages come from, the MTA log pipeline the public addresses Exim's
//     deliveries left from (I=, +outgoing_interface); the blocklist
//     collector checks both (labelled by source), the reports collector
//     counts both as own sources. Bounded in number (the MTA log's apart)
//     and age, since each address becomes a `target` label.
//   - DMARCPolicies: the domain collector publishes each domain's DMARC
//     record tags after each check; the reports collector compares them
//     with the policy each reporter saw. Bounded in domains and age.
//
// A nil link ignores writes and returns nothing, so collectors built
// outside an agent (the CLI, tests) need no wiring.
package links
