package cloud

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

// Class is what an adapter may do about an error.
type Class int

const (
	// None is the class of a nil error.
	None Class = iota
	// Retryable: a server fault (5xx, InternalError, ServiceUnavailable) or a transport error or
	// timeout; the same call may succeed later.
	Retryable
	// Throttled: a rate limit or quota (Throttling*, LimitExceeded*, *QuotaExceed, SlowDown, 429);
	// back off and retry.
	Throttled
	// NotFound: the resource does not exist (EntityNotExist*, *NotFound*, NoSuch*, *NotExist*, 404).
	NotFound
	// Conflict: the resource already exists or changed under us (*AlreadyExist*, 409, 412).
	Conflict
	// Permanent: anything else; retrying the same call cannot help.
	Permanent
)

var classNames = [...]string{"none", "retryable", "throttled", "not-found", "conflict", "permanent"}

func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "unknown"
	}
	return classNames[c]
}

// MarshalText makes a Class readable in JSON reports.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// ShouldRetry reports whether Do retries errors of this class.
func (c Class) ShouldRetry() bool { return c == Retryable || c == Throttled }

// Code returns the service's error code carried by err from any of the three SDKs
// (alibaba-cloud-sdk-go, aliyun-log-go-sdk, aliyun-oss-go-sdk), or "" when there is none.
func Code(err error) string {
	code, _ := codeAndStatus(err)
	return code
}

// Status returns the HTTP status carried by err, or 0 when there is none.
func Status(err error) int {
	_, status := codeAndStatus(err)
	return status
}

func codeAndStatus(err error) (string, int) {
	if err == nil {
		return "", 0
	}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		return se.ErrorCode(), se.HttpStatus()
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) {
		return ce.ErrorCode(), 0
	}
	if le := slsError(err); le != nil {
		if le.HTTPCode < 0 {
			return le.Code, 0
		}
		return le.Code, int(le.HTTPCode)
	}
	var bre *sls.BadResponseError
	if errors.As(err, &bre) {
		return "", bre.HTTPCode
	}
	var brv sls.BadResponseError
	if errors.As(err, &brv) {
		return "", brv.HTTPCode
	}
	var ose oss.ServiceError
	if errors.As(err, &ose) {
		return ose.Code, ose.StatusCode
	}
	var osp *oss.ServiceError
	if errors.As(err, &osp) {
		return osp.Code, osp.StatusCode
	}
	var ous oss.UnexpectedStatusCodeError
	if errors.As(err, &ous) {
		return "", ous.Got()
	}
	var are *AssumeRoleError
	if errors.As(err, &are) {
		return are.Code, 0
	}
	return "", 0
}

// Classify sorts err into a Class from its code, HTTP status and type.
func Classify(err error) Class {
	if err == nil {
		return None
	}
	code, status := codeAndStatus(err)
	if c, ok := classifyCode(code); ok {
		return c
	}
	switch {
	case status == 429:
		return Throttled
	case status >= 500 && status <= 599:
		return Retryable
	case status == 404:
		return NotFound
	case status == 409 || status == 412:
		return Conflict
	case status >= 400:
		return Permanent
	}
	if isTransport(err) {
		return Retryable
	}
	return Permanent
}

// credentialCodes look like NotFound but are about the caller's key, not the resource: an
// adapter must not read them as "the resource is missing, create it".
var credentialPrefixes = []string{
	"InvalidAccessKeyId", "InvalidSecurityToken", "SignatureDoesNotMatch", "SignatureNonceUsed",
	"InvalidTimeStamp", "InvalidAction", "Unauthorized", "Forbidden", "NoPermission", "AccessDenied",
}

func classifyCode(code string) (Class, bool) {
	if code == "" {
		return 0, false
	}
	for _, p := range credentialPrefixes {
		if strings.HasPrefix(code, p) {
			return Permanent, true
		}
	}
	switch {
	case strings.Contains(code, "Throttling"), // Throttling, Throttling.User, Throttling.Api, Rejected.Throttling
		strings.HasPrefix(code, "LimitExceeded"),              // LimitExceeded.Frequency (Resource Manager, 409)
		code == "WriteQuotaExceed", code == "ReadQuotaExceed", // SLS shard quotas
		code == "ExceedQuota", code == "SlowDown", code == "TooManyRequests":
		return Throttled, true
	case code == "ServiceUnavailable", strings.HasPrefix(code, "InternalError"),
		code == "ServerBusy", code == "RequestTimeout", code == "RequestTimeOut",
		code == sdkerrors.TimeoutErrorCode:
		return Retryable, true
	case strings.HasPrefix(code, "EntityNotExist"), // EntityNotExist.Role, EntityNotExists.Account
		strings.Contains(code, "NotFound"), // TrailNotFoundException, NotFound
		strings.HasPrefix(code, "NoSuch"),  // NoSuchBucket, NoSuchKey, NoSuchLifecycle
		strings.Contains(code, "NotExist"): // ProjectNotExist, LogStoreNotExist, AppNotExist, *DoesNotExistException
		return NotFound, true
	case strings.Contains(code, "AlreadyExist"): // *AlreadyExist, *AlreadyExists, TrailAlreadyExistsException
		return Conflict, true
	}
	return 0, false
}

// transportMarkers are how a transport failure reads once an SDK has flattened it into a string
// (the log SDK wraps network errors as sls.Error{Code: "ClientError", HTTPCode: -1}).
var transportMarkers = []string{
	"connection refused", "connection reset", "broken pipe", "EOF", "i/o timeout", "timeout",
	"deadline exceeded", "TLS handshake", "no such host", "server closed", "network is unreachable",
}

func isTransport(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *sdkerrors.ClientError
	if errors.As(err, &ce) && ce.OriginError() != nil {
		return isTransport(ce.OriginError()) || hasTransportMarker(ce.OriginError().Error())
	}
	if le := slsError(err); le != nil && le.HTTPCode < 0 {
		return hasTransportMarker(le.Message)
	}
	return false
}

// slsError finds an sls.Error by pointer (what the SDK returns) or by value.
func slsError(err error) *sls.Error {
	var p *sls.Error
	if errors.As(err, &p) {
		return p
	}
	var v sls.Error
	if errors.As(err, &v) {
		return &v
	}
	return nil
}

func hasTransportMarker(msg string) bool {
	for _, m := range transportMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
