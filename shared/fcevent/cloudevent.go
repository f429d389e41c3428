package fcevent

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// MaxAsyncPayload is Function Compute's limit on an asynchronous invocation's payload (128 KB).
// EventBridge and timer triggers invoke asynchronously, so anything larger did not come from them.
const MaxAsyncPayload = 128 << 10

// CloudEvent is an EventBridge delivery: a CloudEvents 1.0 envelope with Alibaba Cloud's
// extensions, carrying one ActionTrail record as data.
type CloudEvent struct {
	ID          string
	Source      string // "acs.actiontrail" for ActionTrail records
	SpecVersion string // always "1.0"
	Type        string // "<service>:ActionTrail:<ApiCall|ConsoleOperation|AliyunServiceEvent>"
	Subject     string
	Time        time.Time // zero when the envelope has none

	DataContentType         string
	AliyunAccountID         string
	AliyunOriginalAccountID string
	AliyunPublishTime       string // kept as sent: informational, and its layout varies (milliseconds)
	AliyunEventBusName      string
	AliyunRegionID          string

	Data Record
}

// Service is the first part of Type ("resourcemanager" in "resourcemanager:ActionTrail:ApiCall").
func (e CloudEvent) Service() string {
	s, _, _ := strings.Cut(e.Type, ":")
	return s
}

// Record is an ActionTrail event record, with the real service's field names in mind.
type Record struct {
	EventID            string
	EventVersion       string
	EventName          string
	EventSource        string // "resourcemanager.aliyuncs.com"
	EventType          string // ApiCall, ConsoleOperation, AliyunServiceEvent
	EventRW            string // Write, Read
	EventTime          time.Time
	AcsRegion          string
	ServiceName        string
	APIVersion         string
	RequestID          string
	SourceIPAddress    string
	UserAgent          string
	RecipientAccountID string
	UserIdentity       UserIdentity
	// RequestParameters is never nil. Values are as decoded from JSON with numbers kept as
	// json.Number, so a 16-digit AccountId sent as a number keeps every digit.
	RequestParameters map[string]any
	// ResponseElements is nil when the record has none (absent or null), as failed calls do.
	ResponseElements map[string]any
	ResourceType     string
	ResourceName     string
	ErrorCode        string // non-empty when the call failed
	ErrorMessage     string
}

// UserIdentity is who made the call; AccountID is the caller's account.
type UserIdentity struct {
	Type        string
	AccountID   string
	PrincipalID string
	UserName    string
	AccessKeyID string
	SessionName string
	Arn         string
}

// DecodeCloudEvent decodes one EventBridge delivery of an ActionTrail record. Required: id,
// source, specversion "1.0", a type of the form "<service>:ActionTrail:<kind>" and
// data.eventName; every other field is optional but must have the right type (ids may be
// strings or numbers) and times must be RFC 3339. Payloads over MaxAsyncPayload are refused.
func DecodeCloudEvent(raw []byte) (CloudEvent, error) {
	v, err := decodeJSON(raw, MaxAsyncPayload)
	if err != nil {
		return CloudEvent{}, err
	}
	return cloudEventFrom(v, "")
}

// DecodeCloudEvents decodes a delivery that may be one event or, when the trigger pushes in
// batches, a JSON array of them. It returns every event that decoded; the error (joined
// FieldErrors whose fields start with "[i]") lists those that did not, so one bad event does
// not hold up the rest of its batch.
func DecodeCloudEvents(raw []byte) ([]CloudEvent, error) {
	v, err := decodeJSON(raw, MaxAsyncPayload)
	if err != nil {
		return nil, err
	}
	list, isList := v.([]any)
	if !isList {
		ev, err := cloudEventFrom(v, "")
		if err != nil {
			return nil, err
		}
		return []CloudEvent{ev}, nil
	}
	if len(list) == 0 {
		return nil, fieldErr("payload", RuleRequired, "is an empty array: at least one event is expected")
	}
	out := make([]CloudEvent, 0, len(list))
	var errs []error
	for i, item := range list {
		ev, err := cloudEventFrom(item, "["+strconv.Itoa(i)+"]")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ev)
	}
	return out, errors.Join(errs...)
}

func cloudEventFrom(v any, path string) (CloudEvent, error) {
	root, ok, err := asObject(v, pathOr(path, "payload"))
	if err != nil {
		return CloudEvent{}, err
	}
	if !ok {
		return CloudEvent{}, fieldErr(pathOr(path, "payload"), RuleRequired, "must be a CloudEvent object, got null")
	}
	root.path = path
	var ev CloudEvent
	r := reader{o: root}
	ev.ID = r.required("id", "the event id")
	ev.Source = r.required("source", "the event source, e.g. acs.actiontrail")
	ev.SpecVersion = r.required("specversion", `"1.0"`)
	ev.Type = r.required("type", "e.g. resourcemanager:ActionTrail:ApiCall")
	ev.Subject = r.str("subject")
	ev.Time = r.time("time")
	ev.DataContentType = r.str("datacontenttype")
	ev.AliyunAccountID = r.str("aliyunaccountid")
	ev.AliyunOriginalAccountID = r.str("aliyunoriginalaccountid")
	ev.AliyunPublishTime = r.str("aliyunpublishtime")
	ev.AliyunEventBusName = r.str("aliyuneventbusname")
	ev.AliyunRegionID = r.str("aliyunregionid")
	if r.err != nil {
		return CloudEvent{}, r.err
	}
	if ev.SpecVersion != "1.0" {
		return CloudEvent{}, fieldErr(join(path, "specversion"), RuleValue, `must be "1.0" (CloudEvents 1.0), got %q`, clip(ev.SpecVersion))
	}
	if !isActionTrailType(ev.Type) {
		return CloudEvent{}, fieldErr(join(path, "type"), RuleValue, `must be "<service>:ActionTrail:<ApiCall|ConsoleOperation|AliyunServiceEvent>", got %q`, clip(ev.Type))
	}
	data, ok, err := root.obj("data")
	if err != nil {
		return CloudEvent{}, err
	}
	if !ok {
		return CloudEvent{}, fieldErr(join(path, "data"), RuleRequired, "must be the ActionTrail record")
	}
	if ev.Data, err = recordFrom(data); err != nil {
		return CloudEvent{}, err
	}
	return ev, nil
}

// isActionTrailType accepts any "<service>:ActionTrail:<kind>": the exact service prefix
// Resource Manager's records carry is unverified, so the decision is left to data.eventName.
func isActionTrailType(t string) bool {
	parts := strings.Split(t, ":")
	return len(parts) == 3 && parts[0] != "" && parts[1] == "ActionTrail" && parts[2] != ""
}

func recordFrom(o object) (Record, error) {
	r := reader{o: o}
	rec := Record{
		EventID:            r.str("eventId"),
		EventVersion:       r.str("eventVersion"),
		EventName:          r.required("eventName", "the API action, e.g. CreateResourceAccount"),
		EventSource:        r.str("eventSource"),
		EventType:          r.str("eventType"),
		EventRW:            r.str("eventRW"),
		EventTime:          r.time("eventTime"),
		AcsRegion:          r.str("acsRegion"),
		ServiceName:        r.str("serviceName"),
		APIVersion:         r.str("apiVersion"),
		RequestID:          r.str("requestId"),
		SourceIPAddress:    r.str("sourceIpAddress"),
		UserAgent:          r.str("userAgent"),
		RecipientAccountID: r.str("recipientAccountId"),
		ResourceType:       r.str("resourceType"),
		ResourceName:       r.str("resourceName"),
		ErrorCode:          r.str("errorCode"),
		ErrorMessage:       r.str("errorMessage"),
	}
	if r.err != nil {
		return Record{}, r.err
	}
	ui, _, err := o.obj("userIdentity")
	if err != nil {
		return Record{}, err
	}
	u := reader{o: ui}
	rec.UserIdentity = UserIdentity{
		Type: u.str("type"), AccountID: u.str("accountId"), PrincipalID: u.str("principalId"),
		UserName: u.str("userName"), AccessKeyID: u.str("accessKeyId"), SessionName: u.str("sessionName"),
		Arn: u.str("arn"),
	}
	if u.err != nil {
		return Record{}, u.err
	}
	params, _, err := o.objOrString("requestParameters")
	if err != nil {
		return Record{}, err
	}
	rec.RequestParameters = params.m
	if rec.RequestParameters == nil {
		rec.RequestParameters = map[string]any{}
	}
	resp, _, err := o.objOrString("responseElements")
	if err != nil {
		return Record{}, err
	}
	rec.ResponseElements = resp.m
	return rec, nil
}

// reader reads several fields of one object and keeps the first error, so decoding reads as
// a list of fields rather than a ladder of ifs.
type reader struct {
	o   object
	err error
}

func (r *reader) str(key string) string {
	if r.err != nil {
		return ""
	}
	s, err := r.o.str(key)
	if err != nil {
		r.err = err
	}
	return s
}

func (r *reader) required(key, what string) string {
	s := r.str(key)
	if r.err == nil && strings.TrimSpace(s) == "" {
		r.err = fieldErr(join(r.o.path, key), RuleRequired, "must be present and non-empty: %s", what)
	}
	return s
}

func (r *reader) time(key string) time.Time {
	s := r.str(key)
	if r.err != nil {
		return time.Time{}
	}
	t, err := parseTime(s, join(r.o.path, key))
	if err != nil {
		r.err = err
	}
	return t
}

func pathOr(path, def string) string {
	if path == "" {
		return def
	}
	return path
}
