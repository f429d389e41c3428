// Package logaudit configures Log Audit Service multi-account collection (the legacy app API:
// AnalyzeAppLog / DescribeApp with a VariableMap).
package logaudit

// Mode of multi-account collection.
const (
	ModeNone                 = ""
	ModeResourceDirectory    = "resource_directory"
	ModeCustomAuthentication = "custom_authentication"
)

// Config is the whole Log Audit document of the central account. It is one document: every write
// replaces it, so writers must read, modify and write under a lease (see reconcile).
type Config struct {
	Region  string // central region: cn-shanghai or ap-southeast-1
	AliUID  string // central account
	Mode    string
	RDType  string   // all | custom (resource directory mode)
	Members []string // custom RD members, or custom-authentication members; sorted, unique
	// Switches are every other VariableMap key (actiontrail_enabled, actiontrail_ttl, oss_*, ...), kept verbatim.
	Switches map[string]string
}
