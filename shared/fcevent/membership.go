package fcevent

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is what the event path should do about one member.
type Kind string

// Intent kinds.
const (
	Enrol      Kind = "enrol"      // a member joined (or became a cloud account): collect it
	Offboard   Kind = "offboard"   // a member left or was deleted: detach it
	Reevaluate Kind = "reevaluate" // a member moved, was renamed or retagged: include/exclude may change
	Ignore     Kind = "ignore"     // not a membership change, or the call failed: acknowledge and log
)

// Intent is what one event asks of the event path. It is a hint, never the truth: the handler
// re-reads the member through the directory API before acting, so a duplicate, late or forged
// event can at worst cause a harmless re-check.
type Intent struct {
	Kind      Kind
	AccountID string // the member concerned; "" only when Kind is Ignore
	// AccountIDs is every member concerned, AccountID first. It has more than one entry only
	// for TagResources/UntagResources, which retag up to 50 members in one call.
	AccountIDs []string
	EventID    string    // data.eventId (else the envelope id): the key for deduplicating deliveries
	EventName  string    // data.eventName
	EventTime  time.Time // data.eventTime (else the envelope time); zero when neither is set
	Actor      string    // data.userIdentity.accountId: the account that made the call
	Reason     string    // why this kind, for logs and reports
}

// accountIDRE is the account id rule of this package: 1 to 20 digits (real ids have 16).
var accountIDRE = regexp.MustCompile(`^[0-9]{1,20}$`)

// IsAccountID reports whether s is an account id: 1 to 20 ASCII digits.
func IsAccountID(s string) bool { return accountIDRE.MatchString(s) }

// MembershipIntent decides what a Resource Manager ActionTrail record means for one member:
//
//	CreateResourceAccount, CreateCloudAccount, AcceptHandshake, PromoteResourceAccount -> Enrol
//	RemoveCloudAccount, DeleteAccount                                                  -> Offboard
//	MoveAccount, UpdateAccount, TagResources/UntagResources of accounts                -> Reevaluate
//	anything else, a failed call (errorCode set), another service's event              -> Ignore
//
// Ignore is not an error: unrelated events are acknowledged and logged. The error is for an
// event we handle whose member cannot be found or is not a valid id; it is a *FieldError and
// is permanent (retrying the same event cannot fix it).
func MembershipIntent(ev CloudEvent) (Intent, error) {
	d := ev.Data
	in := Intent{
		Kind: Ignore, EventID: d.EventID, EventName: d.EventName, EventTime: d.EventTime,
		Actor: d.UserIdentity.AccountID,
	}
	if in.EventID == "" {
		in.EventID = ev.ID
	}
	if in.EventTime.IsZero() {
		in.EventTime = ev.Time
	}
	rule, known := membershipRules[d.EventName]
	switch {
	case !known:
		in.Reason = d.EventName + " is not a membership change"
		return in, nil
	case !fromResourceManager(ev):
		in.Reason = d.EventName + " comes from " + sourceOf(ev) + ", not Resource Manager"
		return in, nil
	case d.ErrorCode != "":
		in.Reason = d.EventName + " failed (" + clip(d.ErrorCode) + "): nothing changed"
		return in, nil
	case rule.kind == Ignore:
		in.Reason = rule.reason
		return in, nil
	}
	ids, ignore, err := rule.find(ev)
	if err != nil {
		return Intent{}, err
	}
	if ignore != "" {
		in.Reason = ignore
		return in, nil
	}
	in.Kind, in.AccountID, in.AccountIDs, in.Reason = rule.kind, ids[0], ids, d.EventName+": "+rule.reason
	return in, nil
}

type membershipRule struct {
	kind   Kind
	reason string
	// find returns the members concerned (at least one, all valid), or a reason to ignore the event.
	find func(CloudEvent) (ids []string, ignore string, err error)
}

// membershipRules covers every Resource Directory event name ActionTrail records, so that the
// Ignore ones say why rather than falling through as unknown.
var membershipRules = map[string]membershipRule{
	"CreateResourceAccount":  {Enrol, "a resource account was created in the directory", createdAccount},
	"CreateCloudAccount":     {Enrol, "a cloud account was created in the directory", createdAccount},
	"AcceptHandshake":        {Enrol, "an invited account accepted and joined the directory", acceptedAccount},
	"PromoteResourceAccount": {Enrol, "a resource account was promoted to a cloud account", namedAccount},
	"RemoveCloudAccount":     {Offboard, "a cloud account was removed from the directory", namedAccount},
	"DeleteAccount":          {Offboard, "a resource account was deleted", namedAccount},
	"MoveAccount":            {Reevaluate, "the member moved to another folder: include/exclude must be re-evaluated", namedAccount},
	"UpdateAccount":          {Reevaluate, "the member's name or type changed: include/exclude must be re-evaluated", namedAccount},
	"TagResources":           {Reevaluate, "the member's tags changed: include/exclude must be re-evaluated", taggedAccounts},
	"UntagResources":         {Reevaluate, "the member's tags changed: include/exclude must be re-evaluated", taggedAccounts},

	"InviteAccountToResourceDirectory": {kind: Ignore, reason: "an invitation changes nothing until AcceptHandshake"},
	"DeclineHandshake":                 {kind: Ignore, reason: "a declined invitation changes no membership"},
	"CancelHandshake":                  {kind: Ignore, reason: "a cancelled invitation changes no membership"},
	"CreateFolder":                     {kind: Ignore, reason: "a new folder is empty: no member moved"},
	"DeleteFolder":                     {kind: Ignore, reason: "only an empty folder can be deleted: no member moved"},
	"RegisterDelegatedAdministrator":   {kind: Ignore, reason: "delegated administrators are read by the scheduled reconcile"},
	"DeregisterDelegatedAdministrator": {kind: Ignore, reason: "delegated administrators are read by the scheduled reconcile"},
}

// fromResourceManager keeps other services' same-named actions out: RDS and PolarDB have
// DeleteAccount, ECS has TagResources. Any one positive sign is enough because which of these
// fields a delivery carries varies.
func fromResourceManager(ev CloudEvent) bool {
	d := ev.Data
	src := strings.ToLower(d.EventSource)
	return strings.HasPrefix(src, "resourcemanager.") || strings.EqualFold(d.ServiceName, "ResourceManager") ||
		strings.EqualFold(ev.Service(), "resourcemanager")
}

func sourceOf(ev CloudEvent) string {
	switch {
	case ev.Data.EventSource != "":
		return clip(ev.Data.EventSource)
	case ev.Data.ServiceName != "":
		return clip(ev.Data.ServiceName)
	}
	return "service " + strconv.Quote(clip(ev.Service()))
}

// createdAccount: the new member's id exists only in the response (Account.AccountId).
func createdAccount(ev CloudEvent) ([]string, string, error) {
	return firstID(ev, []idSource{responseAccountID, resourceNameID})
}

// namedAccount: the caller names the member in AccountId; the response or the record's
// resource name are fallbacks for deliveries that leave requestParameters out.
func namedAccount(ev CloudEvent) ([]string, string, error) {
	return firstID(ev, []idSource{requestAccountID, responseAccountID, resourceNameID})
}

// acceptedAccount: the invited account calls AcceptHandshake itself, so the caller's account
// (userIdentity.accountId) is the new member, and so is the account whose trail recorded it
// (recipientAccountId). Handshake.TargetEntity names it too when the invitation was by id
// (it is the logon email otherwise). Every valid candidate must agree.
func acceptedAccount(ev CloudEvent) ([]string, string, error) {
	var cands []idCandidate
	if hs, ok := nested(ev.Data.ResponseElements, "Handshake"); ok {
		te, _ := textAt(hs, "TargetEntity")
		tt, _ := textAt(hs, "TargetType")
		if te != "" && (strings.EqualFold(tt, "Account") || (tt == "" && IsAccountID(te))) {
			cands = append(cands, idCandidate{"data.responseElements.Handshake.TargetEntity", te})
		}
	}
	if ev.Data.UserIdentity.AccountID != "" {
		cands = append(cands, idCandidate{"data.userIdentity.accountId", ev.Data.UserIdentity.AccountID})
	}
	if ev.Data.RecipientAccountID != "" {
		cands = append(cands, idCandidate{"data.recipientAccountId", ev.Data.RecipientAccountID})
	}
	if len(cands) == 0 {
		return nil, "", fieldErr("data.userIdentity.accountId", RuleRequired,
			"AcceptHandshake must name the invited account (userIdentity.accountId, recipientAccountId or responseElements.Handshake.TargetEntity)")
	}
	for _, c := range cands {
		if !IsAccountID(c.value) {
			return nil, "", badID(c.field, c.value)
		}
	}
	for _, c := range cands[1:] {
		if c.value != cands[0].value {
			return nil, "", fieldErr(c.field, RuleConflict, "is %s but %s is %s: the invited account is ambiguous", c.value, cands[0].field, cands[0].value)
		}
	}
	return []string{cands[0].value}, "", nil
}

type idCandidate struct{ field, value string }

// taggedAccounts: TagResources/UntagResources name members as ResourceId.N (or, in other
// encodings, a ResourceId list). Tags on anything but accounts do not concern membership.
func taggedAccounts(ev CloudEvent) ([]string, string, error) {
	p := ev.Data.RequestParameters
	rt, _ := textAt(p, "ResourceType")
	if !strings.EqualFold(rt, "Account") {
		return nil, ev.Data.EventName + " of " + strconv.Quote(clip(rt)) + " resources does not concern members", nil
	}
	type numbered struct {
		n     int
		field string
		value any
	}
	var found []numbered
	for k, v := range p {
		switch {
		case strings.EqualFold(k, "ResourceId"):
			found = append(found, numbered{0, k, v})
		case len(k) > len("ResourceId.") && strings.EqualFold(k[:len("ResourceId.")], "ResourceId."):
			n, err := strconv.Atoi(k[len("ResourceId."):])
			if err == nil && n > 0 {
				found = append(found, numbered{n, k, v})
			}
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].n != found[j].n {
			return found[i].n < found[j].n
		}
		return found[i].field < found[j].field
	})
	var ids []string
	seen := map[string]bool{}
	add := func(field, id string) error {
		if !IsAccountID(id) {
			return badID(field, id)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	}
	for _, f := range found {
		field := "data.requestParameters." + f.field
		if list, ok := f.value.([]any); ok {
			for i, item := range list {
				s, err := scalar(item, field+"["+strconv.Itoa(i)+"]")
				if err != nil {
					return nil, "", err
				}
				if err := add(field+"["+strconv.Itoa(i)+"]", strings.TrimSpace(s)); err != nil {
					return nil, "", err
				}
			}
			continue
		}
		s, err := scalar(f.value, field)
		if err != nil {
			return nil, "", err
		}
		if s == "" {
			continue
		}
		for _, part := range strings.Split(s, ",") {
			if err := add(field, strings.TrimSpace(part)); err != nil {
				return nil, "", err
			}
		}
	}
	if len(ids) == 0 {
		return nil, "", fieldErr("data.requestParameters.ResourceId.1", RuleRequired, "%s of accounts must name at least one member (ResourceId.N)", ev.Data.EventName)
	}
	return ids, "", nil
}

// idSource finds an id in one place of the record: found=false when that place is empty.
type idSource func(ev CloudEvent) (field, id string, found bool, err error)

func requestAccountID(ev CloudEvent) (string, string, bool, error) {
	key, v, ok := object{m: ev.Data.RequestParameters}.getFold("AccountId")
	field := "data.requestParameters." + pathKey(key, "AccountId")
	if !ok {
		return field, "", false, nil
	}
	s, err := scalar(v, field)
	return field, strings.TrimSpace(s), err == nil && s != "", err
}

func responseAccountID(ev CloudEvent) (string, string, bool, error) {
	acct, ok := nested(ev.Data.ResponseElements, "Account")
	if !ok {
		return "data.responseElements.Account.AccountId", "", false, nil
	}
	key, v, ok := object{m: acct}.getFold("AccountId")
	field := "data.responseElements.Account." + pathKey(key, "AccountId")
	if !ok {
		return field, "", false, nil
	}
	s, err := scalar(v, field)
	return field, strings.TrimSpace(s), err == nil && s != "", err
}

// resourceNameID: records name the account they touched in resourceName (localcloud does, as
// ActionTrail does for resource-level events); only trusted when the type says it is an account.
func resourceNameID(ev CloudEvent) (string, string, bool, error) {
	d := ev.Data
	if d.ResourceName == "" || !strings.Contains(strings.ToLower(d.ResourceType), "account") {
		return "data.resourceName", "", false, nil
	}
	return "data.resourceName", strings.TrimSpace(d.ResourceName), true, nil
}

// firstID takes the first place that holds an id; that id must be valid (a bad id is an
// error, not a reason to look elsewhere: it means the record is not what we think it is).
func firstID(ev CloudEvent, sources []idSource) ([]string, string, error) {
	var first string
	for i, src := range sources {
		field, id, found, err := src(ev)
		if err != nil {
			return nil, "", err
		}
		if i == 0 {
			first = field
		}
		if !found {
			continue
		}
		if !IsAccountID(id) {
			return nil, "", badID(field, id)
		}
		return []string{id}, "", nil
	}
	return nil, "", fieldErr(first, RuleRequired, "%s must name the member account (1 to 20 digits)", ev.Data.EventName)
}

func badID(field, id string) error {
	return fieldErr(field, RuleFormat, "must be an account id of 1 to 20 digits, got %q", clip(id))
}

// nested returns m[key] as an object (case-insensitive key), also when it is a string holding one.
func nested(m map[string]any, key string) (map[string]any, bool) {
	_, v, ok := object{m: m}.getFold(key)
	if !ok {
		return nil, false
	}
	switch t := v.(type) {
	case map[string]any:
		return t, true
	case string:
		if inner, err := decodeEmbedded(t); err == nil {
			if m, ok := inner.(map[string]any); ok {
				return m, true
			}
		}
	}
	return nil, false
}

// textAt reads m[key] (case-insensitive) as text; non-scalars read as "".
func textAt(m map[string]any, key string) (string, bool) {
	_, v, ok := object{m: m}.getFold(key)
	if !ok {
		return "", false
	}
	s, err := scalar(v, key)
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(s), true
}

func pathKey(found, def string) string {
	if found == "" {
		return def
	}
	return found
}
