// Package reliability holds auditwarden's reliability suite (tests only): the product's real
// reconcile, app and httpapi code against localcloud under faults, with events delivered
// twice, out of order and late, with the timer, events and API calls racing each other, and with
// bad input on every API route. Each test is bounded to seconds so the suite runs in `make test`.
//
//   - TestFaultMatrixConvergesWithNoMemberLost: 50% throttling, 10% 5xx, 10% dropped connections,
//     localcloud restarted mid-apply (Server.Restart) and all of them at once; a 30-member
//     directory converges within a few runs, then plans nothing, writes nothing and loses no member.
//   - TestFaultMatrixAppPathsSucceed: the event, timer and API paths (with their state-bucket
//     reads and writes) ride out the same faults.
//   - TestMembershipEvents*, TestDepartedMemberStillListed*: duplicated, reordered and stale
//     CloudEvents are harmless.
//   - TestTimerEventsAndAPIAtOnceLoseNothing: the timer, 30 membership events and API calls
//     running at once while members join lose nothing.
//   - TestEveryRoute*, TestCustomAuthentication*, TestEveryMutatingRoute*: every API route answers
//     bad input with 400 naming the field, and every mutating route answers 401 without
//     authentication.
//   - TestFirstSDKClientsConcurrentlyAreRaceFree: the first SDK clients of a process can be made
//     from concurrent goroutines (checked in a child process, under -race).
//
// The fuzz targets for the decoders of outside input live next to the decoders (shared/fcevent:
// CloudEvent, timer payload and HTTP trigger events; shared/policy: the policy; shared/httpapi:
// the routes); `make fuzz` runs each briefly in CI and `make fuzz-long` for longer.
package reliability
