package oss

import (
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

const (
	eventSource = "oss.aliyuncs.com"
	serviceName = "Oss"
)

// managementWrites are the bucket-level writes ActionTrail records as management events.
// Object writes are data events, which ActionTrail does not record by default.
var managementWrites = map[string]bool{
	"PutBucket": true, "DeleteBucket": true, "PutBucketAcl": true,
	"PutBucketPolicy": true, "DeleteBucketPolicy": true,
	"PutBucketEncryption": true, "DeleteBucketEncryption": true,
	"PutBucketLogging": true, "DeleteBucketLogging": true,
	"PutBucketLifecycle": true, "DeleteBucketLifecycle": true,
	"InitiateBucketWorm": true, "CompleteBucketWorm": true, "ExtendBucketWorm": true, "AbortBucketWorm": true,
	"PutBucketPublicAccessBlock": true, "DeleteBucketPublicAccessBlock": true,
	"PutPublicAccessBlock": true, "DeletePublicAccessBlock": true,
}

// managementReads are recorded only when World.RecordReads is set.
var managementReads = map[string]bool{
	"ListBuckets": true, "GetBucketInfo": true, "GetBucketLocation": true, "GetBucketStat": true,
	"GetBucketAcl": true, "GetBucketPolicy": true, "GetBucketEncryption": true, "GetBucketLogging": true,
	"GetBucketLifecycle": true, "GetBucketWorm": true, "GetBucketPublicAccessBlock": true,
	"GetPublicAccessBlock": true,
}

// finish counts the request, records it in ActionTrail when it is a management event, and
// emits it as an OSS operation. It runs after every lock is released: record hooks may call
// back into this server (ActionTrail delivering into a bucket).
func (rq *request) finish() {
	s := rq.s
	if rq.status == 0 {
		rq.status = 200
	}
	rq.count(rq.status)

	if rq.owner == "" && rq.bucket != "" {
		if owner, ok := s.BucketOwner(rq.bucket); ok {
			rq.owner = owner
		}
	}
	if rq.authed && !rq.anon && !rq.faulted &&
		(managementWrites[rq.op] || (s.w.RecordReads && managementReads[rq.op])) {
		s.w.Recorder.Record(rq.event())
	}
	account := rq.owner
	if account == "" {
		account = rq.caller.AccountID
	}
	s.w.Recorder.EmitOSSOperation(core.OSSOperation{
		Time:      s.w.Now(),
		Account:   account,
		Caller:    rq.caller,
		Bucket:    rq.bucket,
		Key:       rq.key,
		Operation: rq.op,
		Method:    rq.r.Method,
		Status:    rq.status,
		RequestID: rq.id,
		SourceIP:  rq.srcIP,
		Bytes:     int64(len(rq.body)) + rq.bytesOut,
	})
}

// event is the ActionTrail record of a management call, in the bucket owner's history (the
// caller's when the bucket does not exist).
func (rq *request) event() *core.Event {
	rw := "Read"
	if rq.write {
		rw = "Write"
	}
	recipient := rq.recipient
	if recipient == "" {
		recipient = rq.owner
	}
	if recipient == "" {
		recipient = rq.caller.AccountID
	}
	params := map[string]any{}
	for k, v := range rq.params {
		params[k] = v
	}
	ev := &core.Event{
		EventName:          rq.op,
		EventSource:        eventSource,
		EventType:          "ApiCall",
		EventRW:            rw,
		AcsRegion:          rq.s.w.Region,
		ServiceName:        serviceName,
		RequestID:          rq.id,
		SourceIPAddress:    rq.srcIP,
		UserAgent:          rq.r.UserAgent(),
		RecipientAccountID: recipient,
		UserIdentity:       core.IdentityOf(rq.caller),
		RequestParameters:  params,
	}
	if rq.bucket != "" {
		params["bucketName"] = rq.bucket
		ev.ResourceType = "ACS::OSS::Bucket"
		ev.ResourceName = rq.bucket
	}
	if rq.status >= 300 {
		ev.ErrorCode, ev.ErrorMessage = rq.errCode, rq.errMessage
	}
	return ev
}

// count adds the request to stats once: when its answer's status is written, or at finish for a
// request that never answered (a dropped connection).
func (rq *request) count(status int) {
	if rq.counted {
		return
	}
	rq.counted = true
	rq.s.w.Stats.Add(product, rq.op, rq.caller.AccountID, rq.write, status, rq.throttled)
}
