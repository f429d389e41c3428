// Package deploy holds the function role's RAM documents and the test that keeps the permission
// policy equal to what the product code calls.
//
//   - function-role-policy.json: the permission policy of the role every function runs as
//     (s.yaml vars.role). It grants exactly the actions the code calls with that role's
//     credentials, no wildcard actions, each on the narrowest resource RAM authorizes it on.
//   - function-role-trust.json: the role's trust policy: only Function Compute (fc.aliyuncs.com)
//     may assume it.
//
// # Resources tied to names
//
// The policy scopes resources to auditwarden's default names (deploy/policy.yaml and s.yaml).
// An organization that renames them edits the policy to match:
//
//   - OSS buckets auditwarden-* (the archive and the state bucket); object reads, writes, deletes
//     and listing only in the state bucket auditwarden-state-*: the function never touches the
//     archive's objects.
//   - SLS projects auditwarden-*; log writes only to the backfill Logstore auditwarden_backfill.
//   - Log Audit: the app resource acs:log:*:*:app/audit.
//   - sts:AssumeRole only into ResourceDirectoryAccountAccessRole (cloud.DefaultMemberRole),
//     listed in both the lowercase form RAM shows role ARNs in and the role's own spelling.
//   - RAM, for the delivery role that members' ActionTrail assumes to write into the central
//     account (backfill trails and memberTrails): ram:GetRole and ram:AttachPolicyToRole only on
//     the role AuditWardenBackfillDelivery (both spellings) and the system policies
//     AliyunLogFullAccess (SLS destination) and AliyunOSSFullAccess (OSS destination),
//     so the function role cannot attach a policy to any other role (itself included);
//     ram:CreateRole on role/*, the resource RAM's authorization table gives CreateRole.
//   - fc:InvokeFunction only on the function named backfill (AUDITWARDEN_BACKFILL_FUNCTION).
//   - ActionTrail authorizes per operation only, and the read-only Resource Manager calls and
//     sts:GetCallerIdentity are granted on "*".
//
// # How the test finds the calls
//
// Scanner reads the product code (every non-test .go file under shared/ and functions/, except
// shared/localcloud, shared/fchost, shared/bench, shared/reliability and testdata) with go/parser alone, resolving import names
// per file:
//
//   - alibaba-cloud-sdk-go RPC services (resourcemanager, actiontrail, sts, ram, sls): every
//     <pkg>.Create<API>Request, called or referenced, and every <pkg>.<API>Request literal or
//     new(...), is the action <ramcode>:<API>. The Log Audit app API (services/sls) is the
//     exception: DescribeApp is log:GetApp and AnalyzeAppLog is log:CreateApp plus
//     log:UpdateApp, on the app resource (rpcActions). A CommonRequest is read from a literal
//     ApiName and a literal Product or Version in the same function.
//   - aliyun-log-go-sdk (and its producer), aliyun-oss-go-sdk/oss and the FC 3.0 client are used
//     through values, so the package is not at the call site. In a file that imports one of
//     them, a call x.M(...) whose name M is a method of the SDK's API types (read from the SDK
//     source by LoadMethods) with an arity that fits one of its signatures is that SDK's method:
//     the tables in tables.go give its actions, mark it local (no request), or, for OSS
//     Conn.Do/DoWithContext and Bucket.Do, read the action from the literal HTTP method and
//     sub-resource. A method value (f := b.PutObject) counts like a call.
//
// Anything the scanner cannot map is a Problem that fails the test with its file and line: a
// method missing from the tables, an RPC service or SDK package it does not know (the log SDK's
// consumer, the OSS v2 SDK, other Tea product SDKs, credentials-go), a generic request whose
// method or sub-resource is not literal, a method name shared by two SDKs imported by the same
// file, a dot import.
//
// Limits of the heuristic, all in the direction of asking for more rather than less: a method
// of some other type with an SDK method's name and arity, in a file importing that SDK, counts
// as an SDK call (the unknown ones then fail the test until tabled); calls in files without the
// SDK import are not seen, so SDK values must be used where the SDK is imported (true of every
// adapter today); a generic request reached through a method value (f := conn.Do) is not read;
// requests sent without the SDKs (a hand-signed HTTP call) are invisible; actions a service
// checks on the caller besides the API's own (ActionTrail creating its service-linked role, say)
// are not derived and are not granted.
//
// Calls that run with other credentials are exempt in the test, each with its reason: custom
// authentication's RAM calls run with the member's own AccessKey pair, and the function role
// must never hold ram:CreateRole, ram:AttachPolicyToRole or ram:UpdateRole (it could grant
// itself anything). Calls made in members through AssumeRole are not exempt: the same
// functions run in the central account with the role itself.
package deploy
