package sls

import (
	"net"
	"strings"
)

// projectFromHost takes the project from the Host header, as the real service does: the SDK
// always builds http://<project>.<endpoint><uri>, and a bare endpoint is a service-level call
// (ListProject). The rule, after dropping the port and lower-casing:
//
//   - an IP literal (127.0.0.1, ::1): no project;
//   - <project>.<a.b.c.d> (an IPv4 endpoint with one label in front): that label;
//   - localhost: no project; <project>.localhost: that label;
//   - <region>.log.aliyuncs.com, <region>-intranet.log.aliyuncs.com, <region>.sls.aliyuncs.com
//     and any other *.aliyuncs.com endpoint of four labels: no project;
//     one more label in front (p1.cn-hangzhou.log.aliyuncs.com): that label;
//   - any other name: its first label is the project when the name has three or more labels
//     (p1.sls.example.test), none otherwise (a custom endpoint such as sls.local).
func projectFromHost(hostport string) string {
	p := hostLabel(hostport)
	for i := 0; i < len(p); i++ {
		if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "" // not a DNS label, so not a project
		}
	}
	return p
}

func hostLabel(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	host = strings.Trim(host, "[]")
	if host == "" || net.ParseIP(host) != nil {
		return ""
	}
	labels := strings.Split(host, ".")
	n := len(labels)
	if n >= 5 && net.ParseIP(strings.Join(labels[n-4:], ".")) != nil {
		if n == 5 {
			return labels[0]
		}
		return ""
	}
	if labels[n-1] == "localhost" {
		if n == 2 {
			return labels[0]
		}
		return ""
	}
	if n >= 2 && labels[n-2] == "aliyuncs" && labels[n-1] == "com" {
		if n == 5 {
			return labels[0]
		}
		return ""
	}
	if n >= 3 {
		return labels[0]
	}
	return ""
}
