package oss

import (
	"github.com/auditwarden/auditwarden/shared/localcloud/core"
)

// accessKind says who may call an operation besides the bucket owner's account.
type accessKind int

const (
	// kindManage: bucket configuration; the owner account's identities only.
	kindManage accessKind = iota
	// kindBucketRead: GetBucketInfo and friends; the owner, or other accounts a policy allows.
	kindBucketRead
	// kindList: ListObjects; also a public-read bucket ACL.
	kindList
	// kindObjectRead: GetObject, HeadObject; policy or a public-read ACL.
	kindObjectRead
	// kindObjectWrite: PutObject, DeleteObject; policy or a public-read-write ACL.
	kindObjectWrite
)

// policyAction is the RAM action a bucket policy names for an operation.
func policyAction(op string) string {
	switch op {
	case "HeadObject", "GetObjectMeta":
		return "oss:GetObject"
	case "ListObjectsV2":
		return "oss:ListObjects"
	case "DeleteMultipleObjects":
		return "oss:DeleteObject"
	}
	return "oss:" + op
}

// authorize decides whether the caller may run the request's operation on b (and key, for
// object operations). The caller holds s.mu.
//
// A Deny statement of the bucket policy refuses everyone but the owner account's root
// identity (so a secure-transport policy cannot lock the owner out). The owner account's
// identities may do everything else. Other accounts and anonymous callers need an Allow
// statement or, for object calls and listing, a public ACL; Block Public Access (bucket or
// account level) voids public ACLs and public policy grants.
func (s *Server) authorize(rq *request, b *bucket, kind accessKind, key string, obj *object) *apiError {
	ownerAccount := !rq.anon && rq.caller.AccountID == b.owner
	ownerRoot := ownerAccount && rq.caller.Type == core.PrincipalRoot
	resource := "acs:oss:" + b.region + ":" + b.owner + ":" + b.name
	if kind == kindObjectRead || kind == kindObjectWrite {
		resource += "/" + key
	}
	ctx := evalContext{
		anonymous: rq.anon,
		caller:    rq.caller,
		action:    policyAction(rq.op),
		resource:  resource,
		values: map[string]string{
			"acs:securetransport": map[bool]string{true: "true", false: "false"}[rq.secure],
			"acs:sourceip":        rq.srcIP,
			"acs:useragent":       rq.r.UserAgent(),
		},
	}
	if kind == kindList {
		ctx.values["oss:prefix"] = rq.query.Get("prefix")
		ctx.values["oss:delimiter"] = rq.query.Get("delimiter")
	}
	if !ownerRoot && b.policy.matches("Deny", ctx, false) {
		return errAccessDenied("Access denied by bucket policy.")
	}
	if ownerAccount {
		return nil
	}
	if kind == kindManage {
		return s.denied(rq, kind)
	}
	blocked := b.blockPub || s.accountBlock[b.owner]
	if b.policy.matches("Allow", ctx, blocked) {
		return nil
	}
	if !blocked {
		acl := b.acl
		if obj != nil && obj.acl != "" && obj.acl != "default" {
			acl = obj.acl
		}
		switch {
		case acl == "public-read-write" && kind != kindBucketRead:
			return nil
		case acl == "public-read" && (kind == kindList || kind == kindObjectRead):
			return nil
		}
	}
	return s.denied(rq, kind)
}

func (s *Server) denied(rq *request, kind accessKind) *apiError {
	object := kind == kindObjectRead || kind == kindObjectWrite
	switch {
	case rq.anon && object:
		return errAccessDenied("Anonymous user has no right to access this object.")
	case rq.anon:
		return errAccessDenied("Anonymous user has no right to access this bucket.")
	case object:
		return errAccessDenied("You have no right to access this object because of bucket acl.")
	}
	return errAccessDenied("The bucket you visit is not belong to you.")
}
