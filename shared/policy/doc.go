// Package policy is the desired state of an organization's audit logging: a
// versioned YAML document (apiVersion auditwarden/v1, kind AuditPolicy), its
// defaults, its validation and the questions the rest of auditwarden asks it.
// It is pure data: no cloud calls, no global state.
//
// Parse reads a document, fills the defaults and validates; every problem comes
// back at once in a *ValidationError whose FieldErrors name the field (a dotted
// path such as "logAudit.resourceDirectory.include.accounts[2]"), the rule and
// the line. Decoding is strict: unknown fields, wrong types, duplicate keys and
// a second document are errors, and so is any key that names a credential
// (accessKeySecret, accessKeyId, password, ...) anywhere in the document.
// example.yaml (Example) is the commented reference of every field.
//
// Schema (defaults in brackets; a disabled section is not validated):
//
//	apiVersion: auditwarden/v1          required; other versions are refused
//	kind: AuditPolicy                   required
//	allowNonCompliant: bool             [false] CIS shortfalls become findings, not errors
//	central: {accountId, region}        required: 1..20 digits; ^[a-z]{2}-[a-z0-9-]+$
//	trail: name [auditwarden], eventRW Write|Read|[All], trailRegion [All]|<region>,
//	       organization [true]
//	destinations:                       at least one enabled
//	  sls: enabled [true], project [auditwarden-<accountId>-<region>], region [central],
//	       ttlDays 1..3650 [365], projectArn + roleArn (both or neither, same account)
//	  oss: enabled [false], bucket [auditwarden-<accountId>-<region>], create [true],
//	       region [central], prefix [actiontrail], encryption none|[AES256]|KMS (+kmsKeyId),
//	       retentionDays 0..25550 [0 = no WORM], lifecycle {transitionToIADays,
//	       transitionToArchiveDays, expireDays} (increasing; expire > retention),
//	       accessLogging {enabled [true], targetBucket [bucket], targetPrefix [access-log/]},
//	       secureTransport [true], blockPublicAccess [true], roleArn (needs create: false)
//	  maxCompute: enabled [false], region [central], project (name or acs:odps ARN), roleArn
//	logAudit: enabled [true], region cn-shanghai|ap-southeast-1 [by central region],
//	          mode [resourceDirectory]|customAuthentication,
//	          resourceDirectory: {members [all]|custom, include, exclude}
//	            selector: {folders: [fd-..|r-..], accounts: [id], tags: ["k=v" | "k" | {key, value}]}
//	          customAuthentication: {accounts: [id]}
//	          products: {<name>: {enabled [true when listed], ttlDays, collectionPolicy, logs (sas; [all])}}
//	            unlisted products are off except actiontrail; ttlDays [365 central, 7 regional]
//	innerActionTrail: enabled [false], name [auditwarden-inner], project [sls project], ttlDays [365]
//	memberTrails: enabled [false], nameTemplate [auditwarden-{accountId}], eventRW [All],
//	              trailRegion [All], destination [sls]|oss
//	              a single-account trail in every active member (not the central account,
//	              which holds the multi-account trail), delivering to the central project or
//	              bucket through a central role ActionTrail assumes
//	backfill: enabled [true], method [auto]|delivery-job|lookup, days 1..90 [90],
//	          project [sls project], region, logstore [auditwarden_backfill], ttlDays [365],
//	          trailName [auditwarden-backfill]
//	offboarding: onRemove [detach]|report, keepData [true] (must be true)
//
// Decisions the document does not leave open:
//
//   - CIS 2.23 (retention >= 365 days) covers every Logstore the policy manages:
//     the trail Logstore, the backfill and Inner-ActionTrail Logstores, and the
//     central Log Audit store of every enabled product. Regional Log Audit
//     buffers (oss_access, vpc_flow, dns_intranet, drds_audit, slb_access) are
//     exempt as long as their central copy (<product>_sync) is on; listing a
//     regional product turns its copy on unless the policy says otherwise.
//   - Log Audit product TTLs default to 365, not Log Audit's 180, so that the
//     defaults are compliant.
//   - members: all leaves membership to Log Audit, which cannot exclude anyone;
//     include/exclude need members: custom. Exclude wins over include; a folder
//     covers its descendants; an empty include selects nobody (a CIS 2.3 finding).
//   - memberTrails are made in each member through its access role and kept logging like
//     the multi-account trail; pending or unreachable members are retried by the next run;
//     a member that leaves keeps its trail. Delivering to SLS gives every member trail its
//     own Logstore actiontrail_<name> in the central project, held to destinations.sls.ttlDays.
//   - Data is never deleted: offboarding.keepData cannot be false; retention is
//     governed by TTLs, WORM and the lifecycle alone.
//   - WORM retention defaults to off because a locked policy is irreversible.
//   - A value that is empty or zero means "use the default"; switch features
//     off with enabled: false.
package policy
