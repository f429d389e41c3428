package policy

import "sort"

// ProductInfo describes one Log Audit product: the VariableMap keys that carry
// its switch, retention and collection policy, and where its logs are kept.
type ProductInfo struct {
	Name string
	// EnabledKey is "<name>_enabled"; empty for sas, whose switches are per log (see Logs).
	EnabledKey string
	TTLKey     string
	// CollectionPolicyKey is empty for products that take no collection policy.
	CollectionPolicyKey string
	// Central is false for the regional Logstores that only buffer logs for a
	// few days before SyncTo copies them into the central project.
	Central bool
	SyncTo  string
	// DefaultTTLDays is auditwarden's default: 365 for central stores, which
	// CIS 2.23 covers (Log Audit's own default is 180), 7 for regional buffers.
	DefaultTTLDays int
	// Logs are the Security Center logs, switched by "sas_<log>_enabled".
	Logs []string
}

// sasLogs are the Security Center log switches of the VariableMap.
var sasLogs = []string{
	"crack", "dns", "http", "local_dns", "login", "network", "process",
	"security_alert", "security_hc", "security_vul", "session",
	"snapshot_account", "snapshot_port", "snapshot_process",
}

// productByName is the VariableMap vocabulary of the Log Audit app API
// (terraform alicloud_log_audit); a name outside it is a typo, not a new product.
var productByName = func() map[string]ProductInfo {
	central := func(name, policyKey string) ProductInfo {
		return ProductInfo{Name: name, EnabledKey: name + "_enabled", TTLKey: name + "_ttl",
			CollectionPolicyKey: policyKey, Central: true, DefaultTTLDays: 365}
	}
	regional := func(name, policyKey, syncTo string) ProductInfo {
		return ProductInfo{Name: name, EnabledKey: name + "_enabled", TTLKey: name + "_ttl",
			CollectionPolicyKey: policyKey, SyncTo: syncTo, DefaultTTLDays: 7}
	}
	list := []ProductInfo{
		central("actiontrail", ""),
		regional("oss_access", "", "oss_sync"),
		central("oss_sync", ""),
		central("oss_metering", ""),
		central("rds", "rds_audit_collection_policy"),
		central("rds_slow", "rds_slow_collection_policy"),
		central("rds_perf", "rds_perf_collection_policy"),
		regional("vpc_flow", "vpc_flow_collection_policy", "vpc_sync"),
		central("vpc_sync", ""),
		regional("dns_intranet", "dns_intranet_collection_policy", "dns_sync"),
		central("dns_sync", ""),
		central("polardb", "polardb_audit_collection_policy"),
		central("polardb_slow", "polardb_slow_collection_policy"),
		central("polardb_perf", "polardb_perf_collection_policy"),
		regional("drds_audit", "drds_audit_collection_policy", "drds_sync"),
		central("drds_sync", ""),
		regional("slb_access", "slb_access_collection_policy", "slb_sync"),
		central("slb_sync", ""),
		central("bastion", ""),
		central("waf", ""),
		central("cloudfirewall", ""),
		central("cloudfirewall_vpc", ""),
		central("ddos_coo_access", ""),
		central("ddos_bgp_access", ""),
		central("ddos_dip_access", ""),
		central("apigateway", ""),
		central("nas", ""),
		central("appconnect", ""),
		central("cps", ""),
		central("k8s_audit", "k8s_audit_collection_policy"),
		central("k8s_event", "k8s_event_collection_policy"),
		central("k8s_ingress", "k8s_ingress_collection_policy"),
		{Name: "sas", TTLKey: "sas_ttl", Central: true, DefaultTTLDays: 365, Logs: sasLogs},
	}
	m := make(map[string]ProductInfo, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	return m
}()

// LogAuditProducts lists every product the policy knows, sorted by name.
func LogAuditProducts() []ProductInfo {
	out := make([]ProductInfo, 0, len(productByName))
	for _, p := range productByName {
		p.Logs = append([]string(nil), p.Logs...)
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func productNames() []string {
	names := make([]string, 0, len(productByName))
	for n := range productByName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
