package cloud_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-oss-go-sdk/oss"

	"github.com/auditwarden/auditwarden/shared/cloud"
)

// rpcErr builds the error alibaba-cloud-sdk-go returns for a non-2xx answer.
func rpcErr(status int, code string) error {
	return sdkerrors.NewServerError(status, fmt.Sprintf(`{"RequestId":"R","HostId":"h","Code":%q,"Message":"m"}`, code), "")
}

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		name  string
		err   error
		class cloud.Class
		code  string
	}{
		{"nil", nil, cloud.None, ""},

		// alibaba-cloud-sdk-go: RPC products (Resource Manager, ActionTrail, STS, RAM, Log Audit)
		{"rpc Throttling", rpcErr(400, "Throttling"), cloud.Throttled, "Throttling"},
		{"rpc Throttling.User", rpcErr(400, "Throttling.User"), cloud.Throttled, "Throttling.User"},
		{"rpc Throttling.Api", rpcErr(429, "Throttling.Api"), cloud.Throttled, "Throttling.Api"},
		{"rpc Rejected.Throttling", rpcErr(400, "Rejected.Throttling"), cloud.Throttled, "Rejected.Throttling"},
		{"rpc LimitExceeded.Frequency 409", rpcErr(409, "LimitExceeded.Frequency"), cloud.Throttled, "LimitExceeded.Frequency"},
		{"rpc ServiceUnavailable", rpcErr(503, "ServiceUnavailable"), cloud.Retryable, "ServiceUnavailable"},
		{"rpc InternalError", rpcErr(500, "InternalError"), cloud.Retryable, "InternalError"},
		{"rpc 502 with an HTML body", sdkerrors.NewServerError(502, "<html>bad gateway</html>", ""), cloud.Retryable, ""},
		{"rpc 429 without code", sdkerrors.NewServerError(429, "", ""), cloud.Throttled, ""},
		{"rpc EntityNotExists.Account", rpcErr(404, "EntityNotExists.Account"), cloud.NotFound, "EntityNotExists.Account"},
		{"rpc EntityNotExist.Role", rpcErr(404, "EntityNotExist.Role"), cloud.NotFound, "EntityNotExist.Role"},
		{"rpc TrailNotFoundException", rpcErr(404, "TrailNotFoundException"), cloud.NotFound, "TrailNotFoundException"},
		{"rpc SlsProjectDoesNotExistException 400", rpcErr(400, "SlsProjectDoesNotExistException"), cloud.NotFound, "SlsProjectDoesNotExistException"},
		{"rpc AppNotExist", rpcErr(400, "AppNotExist"), cloud.NotFound, "AppNotExist"},
		{"rpc ResourceDirectoryNotInUse 404", rpcErr(404, "ResourceDirectoryNotInUse"), cloud.NotFound, "ResourceDirectoryNotInUse"},
		{"rpc TrailAlreadyExistsException", rpcErr(400, "TrailAlreadyExistsException"), cloud.Conflict, "TrailAlreadyExistsException"},
		{"rpc EntityAlreadyExists.Role", rpcErr(409, "EntityAlreadyExists.Role"), cloud.Conflict, "EntityAlreadyExists.Role"},
		{"rpc InvalidAccessKeyId.NotFound is about our key", rpcErr(404, "InvalidAccessKeyId.NotFound"), cloud.Permanent, "InvalidAccessKeyId.NotFound"},
		{"rpc InvalidAction.NotFound", rpcErr(404, "InvalidAction.NotFound"), cloud.Permanent, "InvalidAction.NotFound"},
		{"rpc SignatureDoesNotMatch", rpcErr(400, "SignatureDoesNotMatch"), cloud.Permanent, "SignatureDoesNotMatch"},
		{"rpc NoPermission", rpcErr(403, "NoPermission"), cloud.Permanent, "NoPermission"},
		{"rpc InvalidParameter", rpcErr(400, "InvalidParameter.AccountId"), cloud.Permanent, "InvalidParameter.AccountId"},
		{"rpc MaximumNumberOfTrailsExceededException", rpcErr(403, "MaximumNumberOfTrailsExceededException"), cloud.Permanent, "MaximumNumberOfTrailsExceededException"},
		{"rpc client timeout", sdkerrors.NewClientError(sdkerrors.TimeoutErrorCode, "timed out", nil), cloud.Retryable, "SDK.TimeoutError"},
		{"rpc client error over a transport error", sdkerrors.NewClientError("SDK.ClientError", "x", &url.Error{Op: "Post", URL: "http://h", Err: io.EOF}), cloud.Retryable, "SDK.ClientError"},
		{"rpc client invalid param", sdkerrors.NewClientError(sdkerrors.InvalidParamErrorCode, "bad", nil), cloud.Permanent, "SDK.InvalidParam"},
		{"rpc client bad JSON", sdkerrors.NewClientError(sdkerrors.JsonUnmarshalErrorCode, "bad", errors.New("invalid character")), cloud.Permanent, "SDK.JsonUnmarshalError"},

		// aliyun-log-go-sdk: SLS
		{"sls WriteQuotaExceed", &sls.Error{HTTPCode: 403, Code: "WriteQuotaExceed"}, cloud.Throttled, "WriteQuotaExceed"},
		{"sls ReadQuotaExceed", &sls.Error{HTTPCode: 403, Code: "ReadQuotaExceed"}, cloud.Throttled, "ReadQuotaExceed"},
		{"sls ExceedQuota", &sls.Error{HTTPCode: 403, Code: "ExceedQuota"}, cloud.Throttled, "ExceedQuota"},
		{"sls ServerBusy", &sls.Error{HTTPCode: 503, Code: "ServerBusy"}, cloud.Retryable, "ServerBusy"},
		{"sls InternalServerError", &sls.Error{HTTPCode: 500, Code: "InternalServerError"}, cloud.Retryable, "InternalServerError"},
		{"sls ProjectNotExist", &sls.Error{HTTPCode: 404, Code: "ProjectNotExist"}, cloud.NotFound, "ProjectNotExist"},
		{"sls LogStoreNotExist", &sls.Error{HTTPCode: 404, Code: "LogStoreNotExist"}, cloud.NotFound, "LogStoreNotExist"},
		{"sls IndexConfigNotExist", &sls.Error{HTTPCode: 404, Code: "IndexConfigNotExist"}, cloud.NotFound, "IndexConfigNotExist"},
		{"sls ProjectAlreadyExist", &sls.Error{HTTPCode: 400, Code: "ProjectAlreadyExist"}, cloud.Conflict, "ProjectAlreadyExist"},
		{"sls LogStoreAlreadyExist", &sls.Error{HTTPCode: 400, Code: "LogStoreAlreadyExist"}, cloud.Conflict, "LogStoreAlreadyExist"},
		{"sls Unauthorized", &sls.Error{HTTPCode: 401, Code: "Unauthorized"}, cloud.Permanent, "Unauthorized"},
		{"sls by value", sls.Error{HTTPCode: 404, Code: "ProjectNotExist"}, cloud.NotFound, "ProjectNotExist"},
		{"sls flattened transport error", sls.NewClientError(refused), cloud.Retryable, "ClientError"},
		{"sls flattened local error", sls.NewClientError(errors.New("Can't find 'x-log-bodyrawsize' header")), cloud.Permanent, "ClientError"},
		{"sls bad response 502", sls.NewBadResponseError("<html>", nil, 502), cloud.Retryable, ""},
		{"sls bad response 400 by value", *sls.NewBadResponseError("<html>", nil, 400), cloud.Permanent, ""},

		// aliyun-oss-go-sdk v3: OSS
		{"oss NoSuchBucket", oss.ServiceError{StatusCode: 404, Code: "NoSuchBucket"}, cloud.NotFound, "NoSuchBucket"},
		{"oss NoSuchKey pointer", &oss.ServiceError{StatusCode: 404, Code: "NoSuchKey"}, cloud.NotFound, "NoSuchKey"},
		{"oss NoSuchLifecycle", oss.ServiceError{StatusCode: 404, Code: "NoSuchLifecycle"}, cloud.NotFound, "NoSuchLifecycle"},
		{"oss HEAD 404 without a body", oss.ServiceError{StatusCode: 404}, cloud.NotFound, ""},
		{"oss BucketAlreadyExists", oss.ServiceError{StatusCode: 409, Code: "BucketAlreadyExists"}, cloud.Conflict, "BucketAlreadyExists"},
		{"oss FileAlreadyExists", oss.ServiceError{StatusCode: 409, Code: "FileAlreadyExists"}, cloud.Conflict, "FileAlreadyExists"},
		{"oss BucketNotEmpty 409", oss.ServiceError{StatusCode: 409, Code: "BucketNotEmpty"}, cloud.Conflict, "BucketNotEmpty"},
		{"oss PreconditionFailed 412", oss.ServiceError{StatusCode: 412, Code: "PreconditionFailed"}, cloud.Conflict, "PreconditionFailed"},
		{"oss SlowDown", oss.ServiceError{StatusCode: 503, Code: "SlowDown"}, cloud.Throttled, "SlowDown"},
		{"oss InternalError", oss.ServiceError{StatusCode: 500, Code: "InternalError"}, cloud.Retryable, "InternalError"},
		{"oss AccessDenied", oss.ServiceError{StatusCode: 403, Code: "AccessDenied"}, cloud.Permanent, "AccessDenied"},
		{"oss unexpected 503", oss.CheckRespCode(503, []int{200}), cloud.Retryable, ""},
		{"oss unexpected 204", oss.CheckRespCode(204, []int{200}), cloud.Permanent, ""},

		// transport and context
		{"connection refused", refused, cloud.Retryable, ""},
		{"url error EOF", &url.Error{Op: "Post", URL: "http://h", Err: io.EOF}, cloud.Retryable, ""},
		{"unexpected EOF", io.ErrUnexpectedEOF, cloud.Retryable, ""},
		{"deadline exceeded", context.DeadlineExceeded, cloud.Retryable, ""},
		{"canceled", context.Canceled, cloud.Permanent, ""},
		{"plain error", errors.New("boom"), cloud.Permanent, ""},

		// wrapped
		{"wrapped throttling", fmt.Errorf("list accounts: %w", rpcErr(400, "Throttling.User")), cloud.Throttled, "Throttling.User"},
		{"give-up wrapper", &cloud.GiveUpError{API: "a", Attempts: 8, Last: rpcErr(503, "ServiceUnavailable"), Cause: context.DeadlineExceeded}, cloud.Retryable, "ServiceUnavailable"},
		{"assume role error", &cloud.AssumeRoleError{Account: "1", Code: "NoPermission", Err: rpcErr(403, "NoPermission")}, cloud.Permanent, "NoPermission"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cloud.Classify(tc.err); got != tc.class {
				t.Errorf("Classify = %v, want %v", got, tc.class)
			}
			if got := cloud.Code(tc.err); got != tc.code {
				t.Errorf("Code = %q, want %q", got, tc.code)
			}
			if tc.class.ShouldRetry() != (tc.class == cloud.Retryable || tc.class == cloud.Throttled) {
				t.Errorf("ShouldRetry(%v) inconsistent", tc.class)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	want := map[cloud.Class]string{cloud.None: "none", cloud.Retryable: "retryable", cloud.Throttled: "throttled",
		cloud.NotFound: "not-found", cloud.Conflict: "conflict", cloud.Permanent: "permanent", cloud.Class(99): "unknown"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), s)
		}
	}
}
