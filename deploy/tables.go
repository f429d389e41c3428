package deploy

import (
	"regexp"
	"strings"
)

// Import paths of the SDKs the scanner understands.
const (
	rpcServicesPrefix = "github.com/aliyun/alibaba-cloud-sdk-go/services/"
	rpcCorePath       = "github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	rpcRequestsPath   = "github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	slsPath           = "github.com/aliyun/aliyun-log-go-sdk"
	slsProducerPath   = "github.com/aliyun/aliyun-log-go-sdk/producer"
	ossPath           = "github.com/aliyun/aliyun-oss-go-sdk/oss"
	fcPath            = "github.com/alibabacloud-go/fc-20230330/v4/client"
	openapiPath       = "github.com/alibabacloud-go/darabonba-openapi/v2/client"
)

// packageNames are the package names of imports whose last path element is not their name.
var packageNames = map[string]string{
	slsPath:     "sls",
	fcPath:      "client",
	openapiPath: "client",
}

// rpcServices maps an alibaba-cloud-sdk-go service package to its RAM code.
var rpcServices = map[string]string{
	"resourcemanager": "resourcemanager",
	"actiontrail":     "actiontrail",
	"sts":             "sts",
	"ram":             "ram",
	"sls":             "log", // the Log Audit app API (Sls 2019-10-23): RAM code log
}

// rpcActions names the RAM actions of RPC APIs whose action is not <code>:<API>. The Log Audit app
// API is authorized on the app resource (acs:log:*:*:app/audit) with log:GetApp, log:CreateApp,
// log:UpdateApp and log:DeleteApp (Alibaba's "authorize a RAM user to manage Log Audit Service"
// page grants log:GetApp for read-only; the Cost Manager page lists the four app actions).
// AnalyzeAppLog creates the audit app on its first call and rewrites it after, hence both actions.
// No log:AnalyzeAppLog or log:DescribeApp action is documented.
var rpcActions = map[string][]string{
	"sls.DescribeApp":   {"log:GetApp"},
	"sls.AnalyzeAppLog": {"log:CreateApp", "log:UpdateApp"},
	"sls.CreateApp":     {"log:CreateApp"},
	"sls.UpdateApp":     {"log:UpdateApp"},
	"sls.DeleteApp":     {"log:DeleteApp"},
}

// rpcListedOnly are services whose APIs are allowed only when listed in rpcActions (their RAM
// actions are not named after the API).
var rpcListedOnly = map[string]bool{"sls": true}

// commonProducts and commonVersions tell which service a CommonRequest goes to, from its Product
// (lowercased) or Version.
var (
	commonProducts = map[string]string{
		"resourcemanager": "resourcemanager", "actiontrail": "actiontrail", "sts": "sts", "ram": "ram", "sls": "sls",
	}
	commonVersions = map[string]string{
		"2020-03-31": "resourcemanager", "2020-07-06": "actiontrail", "2015-04-01": "sts", "2015-05-01": "ram", "2019-10-23": "sls",
	}
)

// entry is what one SDK method does: the RAM actions of the request it sends, nothing (a local
// method: configuration, a builder), or a request the scanner reads from the call's arguments.
type entry struct {
	actions []string
	generic bool
}

func api(actions ...string) entry { return entry{actions: actions} }

var (
	local   = entry{}
	generic = entry{generic: true}
)

// slsMethods maps aliyun-log-go-sdk methods (ClientInterface, Client, LogProject, LogStore and
// producer.Producer) to SLS RAM actions (Alibaba's SLS "action list" page). A method missing here
// fails the scan when product code calls it: add it with its action once you know it.
var slsMethods = map[string]entry{
	// Client configuration and lifecycle.
	"SetUserAgent": local, "SetHTTPClient": local, "SetRetryTimeout": local, "ResetAccessKeyToken": local,
	"SetRegion": local, "SetAuthVersion": local, "Close": local,
	// producer.Producer lifecycle.
	"Start": local, "SafeClose": local,

	"CreateProject": api("log:CreateProject"), "CreateProjectV2": api("log:CreateProject"),
	"GetProject": api("log:GetProject"), "CheckProjectExist": api("log:GetProject"),
	"UpdateProject": api("log:UpdateProject"), "DeleteProject": api("log:DeleteProject"),
	"ListProject": api("log:ListProject"), "ListProjectV2": api("log:ListProject"), "ListProjectV3": api("log:ListProject"),

	"CreateLogStore": api("log:CreateLogStore"), "CreateLogStoreV2": api("log:CreateLogStore"),
	"GetLogStore": api("log:GetLogStore"), "CheckLogstoreExist": api("log:GetLogStore"),
	"UpdateLogStore": api("log:UpdateLogStore"), "UpdateLogStoreV2": api("log:UpdateLogStore"),
	"DeleteLogStore": api("log:DeleteLogStore"),
	"ListLogStore":   api("log:ListLogStores"), "ListLogStoreV2": api("log:ListLogStores"),
	"ListShards": api("log:ListShards"),

	"CreateIndex": api("log:CreateIndex"), "CreateIndexString": api("log:CreateIndex"),
	"GetIndex": api("log:GetIndex"), "GetIndexString": api("log:GetIndex"),
	"UpdateIndex": api("log:UpdateIndex"), "UpdateIndexString": api("log:UpdateIndex"),
	"DeleteIndex": api("log:DeleteIndex"),

	// Writes (PostLogStoreLogs), including the producer's batched sends.
	"PutLogs": api("log:PostLogStoreLogs"), "PostLogStoreLogs": api("log:PostLogStoreLogs"),
	"PostLogStoreLogsV2": api("log:PostLogStoreLogs"), "PutLogsWithCompressType": api("log:PostLogStoreLogs"),
	"PutRawLogWithCompressType": api("log:PostLogStoreLogs"), "PostRawLogWithCompressType": api("log:PostLogStoreLogs"),
	"SendLog": api("log:PostLogStoreLogs"), "SendLogList": api("log:PostLogStoreLogs"),
	"SendLogWithCallBack": api("log:PostLogStoreLogs"), "SendLogListWithCallBack": api("log:PostLogStoreLogs"),
	"HashSendLog": api("log:PostLogStoreLogs"), "HashSendLogList": api("log:PostLogStoreLogs"),
	"HashSendLogWithCallBack": api("log:PostLogStoreLogs"), "HashSendLogListWithCallBack": api("log:PostLogStoreLogs"),

	// Queries (GetLogs, POST /logstores/{ls}/logs).
	"GetLogs": api("log:GetLogStoreLogs"), "GetLogsV2": api("log:GetLogStoreLogs"), "GetLogsV3": api("log:GetLogStoreLogs"),
	"GetLogLines": api("log:GetLogStoreLogs"), "GetLogLinesV2": api("log:GetLogStoreLogs"),
	"GetLogsByNano": api("log:GetLogStoreLogs"), "GetLogLinesByNano": api("log:GetLogStoreLogs"),
	"GetLogsToCompleted": api("log:GetLogStoreLogs"), "GetLogsToCompletedV2": api("log:GetLogStoreLogs"),
	"GetLogsToCompletedV3": api("log:GetLogStoreLogs"),
	"GetHistograms":        api("log:GetLogStoreHistogram"), "GetHistogramsV2": api("log:GetLogStoreHistogram"),
	"GetHistogramsToCompleted": api("log:GetLogStoreHistogram"), "GetHistogramsToCompletedV2": api("log:GetLogStoreHistogram"),

	// Cursor reads: GetLogsBytes* are PullLogs (by shard and cursor), not GetLogs.
	"GetCursor": api("log:GetCursorOrData"), "GetCursorTime": api("log:GetCursorOrData"),
	"PullLogs": api("log:GetCursorOrData"), "PullLogsV2": api("log:GetCursorOrData"), "PullLogsWithQuery": api("log:GetCursorOrData"),
	"GetLogsBytes": api("log:GetCursorOrData"), "GetLogsBytesV2": api("log:GetCursorOrData"),
	"GetLogsBytesWithQuery": api("log:GetCursorOrData"),

	"CreateConsumerGroup": api("log:CreateConsumerGroup"), "UpdateConsumerGroup": api("log:UpdateConsumerGroup"),
	"DeleteConsumerGroup": api("log:DeleteConsumerGroup"), "ListConsumerGroup": api("log:ListConsumerGroup"),
	"HeartBeat": api("log:ConsumerGroupHeartBeat"), "UpdateCheckpoint": api("log:ConsumerGroupUpdateCheckPoint"),
	"GetCheckpoint": api("log:GetConsumerGroupCheckPoint"),
}

// ossMethods maps aliyun-oss-go-sdk v3 Client, Bucket and Conn methods to OSS RAM actions
// (Alibaba's OSS "RAM policy" action list: the SDK's Set* methods are the Put* actions).
var ossMethods = map[string]entry{
	// Builders and configuration.
	"Bucket": local, "SetRegion": local, "SetProduct": local, "SetCloudBoxId": local,
	"LimitUploadSpeed": local, "LimitDownloadSpeed": local, "SignURL": local, "SignRtmpURL": local,
	"GetConfig": local, "LoggerHTTPReq": local, "LoggerHTTPResp": local,

	"CreateBucket": api("oss:PutBucket"), "CreateBucketXml": api("oss:PutBucket"),
	"DeleteBucket": api("oss:DeleteBucket"),
	"ListBuckets":  api("oss:ListBuckets"), "IsBucketExist": api("oss:ListBuckets"), // IsBucketExist lists with a prefix
	"GetBucketInfo":     api("oss:GetBucketInfo"),
	"GetBucketLocation": api("oss:GetBucketLocation"),
	"GetBucketACL":      api("oss:GetBucketAcl"), "SetBucketACL": api("oss:PutBucketAcl"),

	"GetBucketWorm": api("oss:GetBucketWorm"), "InitiateBucketWorm": api("oss:InitiateBucketWorm"),
	"CompleteBucketWorm": api("oss:CompleteBucketWorm"), "ExtendBucketWorm": api("oss:ExtendBucketWorm"),
	"AbortBucketWorm": api("oss:AbortBucketWorm"),

	"GetBucketPolicy": api("oss:GetBucketPolicy"), "SetBucketPolicy": api("oss:PutBucketPolicy"),
	"DeleteBucketPolicy":  api("oss:DeleteBucketPolicy"),
	"GetBucketEncryption": api("oss:GetBucketEncryption"), "SetBucketEncryption": api("oss:PutBucketEncryption"),
	"DeleteBucketEncryption": api("oss:DeleteBucketEncryption"),
	"GetBucketLogging":       api("oss:GetBucketLogging"), "SetBucketLogging": api("oss:PutBucketLogging"),
	"DeleteBucketLogging": api("oss:DeleteBucketLogging"),
	"GetBucketLifecycle":  api("oss:GetBucketLifecycle"), "GetBucketLifecycleXml": api("oss:GetBucketLifecycle"),
	"SetBucketLifecycle": api("oss:PutBucketLifecycle"), "SetBucketLifecycleXml": api("oss:PutBucketLifecycle"),
	"DeleteBucketLifecycle": api("oss:DeleteBucketLifecycle"),
	"GetBucketVersioning":   api("oss:GetBucketVersioning"), "SetBucketVersioning": api("oss:PutBucketVersioning"),
	"GetBucketTagging": api("oss:GetBucketTagging"), "SetBucketTagging": api("oss:PutBucketTagging"),
	"DeleteBucketTagging": api("oss:DeleteBucketTagging"),

	"PutObject": api("oss:PutObject"), "PutObjectFromFile": api("oss:PutObject"), "AppendObject": api("oss:PutObject"),
	"DoPutObject": api("oss:PutObject"),
	"GetObject":   api("oss:GetObject"), "GetObjectToFile": api("oss:GetObject"), "DoGetObject": api("oss:GetObject"),
	// HeadObject and GetObjectMeta are authorized as GetObject.
	"GetObjectMeta": api("oss:GetObject"), "GetObjectDetailedMeta": api("oss:GetObject"), "IsObjectExist": api("oss:GetObject"),
	// DeleteMultipleObjects is authorized per object as DeleteObject.
	"DeleteObject": api("oss:DeleteObject"), "DeleteObjects": api("oss:DeleteObject"),
	"ListObjects": api("oss:ListObjects"), "ListObjectsV2": api("oss:ListObjects"),
	"GetObjectACL": api("oss:GetObjectAcl"), "SetObjectACL": api("oss:PutObjectAcl"),

	// Generic requests: the action is read from the HTTP method and sub-resource in the call.
	"Do": generic, "DoWithContext": generic,
}

// ossGeneric names the action of a generic request, by "METHOD ?subresource".
var ossGeneric = map[string]string{
	"GET ?publicAccessBlock":    "oss:GetBucketPublicAccessBlock",
	"PUT ?publicAccessBlock":    "oss:PutBucketPublicAccessBlock",
	"DELETE ?publicAccessBlock": "oss:DeleteBucketPublicAccessBlock",
}

// fcMethods maps the FC 3.0 SDK client to FC RAM actions.
var fcMethods = map[string]entry{
	"Init": local, "GetEndpoint": local,
	"InvokeFunction": api("fc:InvokeFunction"), "InvokeFunctionWithOptions": api("fc:InvokeFunction"),
	// The embedded darabonba-openapi client's generic calls: no action can be read from them.
	"CallApi": generic, "CallSSEApi": generic, "DoRPCRequest": generic, "DoROARequest": generic,
	"DoROARequestWithForm": generic, "DoRequest": generic, "Execute": generic,
}

// fcGenericNames are methods of the embedded darabonba-openapi client that any FC client has.
var fcGenericNames = []string{"CallApi", "CallSSEApi", "DoRPCRequest", "DoROARequest", "DoROARequestWithForm", "DoRequest", "Execute"}

// teaProductSDK matches the Tea-style product SDKs (github.com/alibabacloud-go/<product>-<yyyymmdd>).
var teaProductSDK = regexp.MustCompile(`^github\.com/alibabacloud-go/[a-z0-9-]+-\d{8}(/|$)`)

// classifyImport says what an import path means to the scanner: an RPC service package (rpc), an
// SDK whose methods are matched by name (kind), or a problem (an SDK the scanner cannot read).
func classifyImport(path string) (rpc string, kind sdkKind, problem string) {
	switch {
	case strings.HasPrefix(path, rpcServicesPrefix):
		svc, _, _ := strings.Cut(strings.TrimPrefix(path, rpcServicesPrefix), "/")
		if _, ok := rpcServices[svc]; !ok {
			return "", 0, "alibaba-cloud-sdk-go service " + svc + " has no RAM code in the scanner: add it to rpcServices (deploy/tables.go)"
		}
		return svc, 0, ""
	case path == slsPath:
		return "", kindSLS, ""
	case path == slsProducerPath:
		return "", kindSLS, ""
	case strings.HasPrefix(path, slsPath+"/"):
		return "", 0, "package " + path + " makes SLS calls the scanner cannot see (a consumer group, say): teach deploy/tables.go its actions first"
	case path == ossPath:
		return "", kindOSS, ""
	case strings.HasPrefix(path, "github.com/aliyun/aliyun-oss-go-sdk"),
		strings.HasPrefix(path, "github.com/aliyun/alibabacloud-oss-go-sdk-v2"):
		return "", 0, "OSS SDK package " + path + " is not understood by the scanner: product code uses github.com/aliyun/aliyun-oss-go-sdk/oss"
	case path == fcPath || path == openapiPath:
		return "", kindFC, ""
	case teaProductSDK.MatchString(path):
		return "", 0, "product SDK " + path + " is not understood by the scanner: add its methods and actions to deploy/tables.go"
	case strings.HasPrefix(path, "github.com/aliyun/credentials-go"):
		return "", 0, "credentials-go may call STS (AssumeRole) by itself, unseen by the scanner: build credentials with shared/cloud instead"
	}
	return "", 0, ""
}
