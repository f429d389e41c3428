package sls

import (
	"net/http"
	"net/url"
)

// route is what one request resolves to before it is authenticated: the action name used by
// stats, faults and ActionTrail, and the handler.
type route struct {
	action string
	write  bool
	// record: a management write ActionTrail keeps; data: a data-plane call it never keeps.
	record  bool
	data    bool
	handler func(*call) error
}

func mgmtWrite(action string, h func(*call) error) route {
	return route{action: action, write: true, record: true, handler: h}
}

func mgmtRead(action string, h func(*call) error) route {
	return route{action: action, handler: h}
}

func dataRoute(action string, write bool, h func(*call) error) route {
	return route{action: action, write: write, data: true, handler: h}
}

// resolve maps method, path and query to a route. Unknown combinations get a route with a nil
// handler, answered with ParameterInvalid after authentication.
func resolve(method string, segs []string, q url.Values, hasProject bool) route {
	unknown := route{action: "Unknown"}
	if len(segs) == 0 {
		switch method {
		case http.MethodGet:
			if !hasProject {
				return mgmtRead("ListProject", (*call).listProjects)
			}
			return mgmtRead("GetProject", (*call).getProject)
		case http.MethodPost:
			return mgmtWrite("CreateProject", (*call).createProject)
		case http.MethodPut:
			return mgmtWrite("UpdateProject", (*call).updateProject)
		case http.MethodDelete:
			return mgmtWrite("DeleteProject", (*call).deleteProject)
		}
		return unknown
	}
	switch segs[0] {
	case "logstores":
		return resolveLogstore(method, segs[1:], q)
	case "dashboards":
		return resolveDashboard(method, segs[1:])
	}
	return unknown
}

func resolveLogstore(method string, segs []string, q url.Values) route {
	unknown := route{action: "Unknown"}
	switch len(segs) {
	case 0:
		switch method {
		case http.MethodGet:
			return mgmtRead("ListLogStores", (*call).listLogstores)
		case http.MethodPost:
			return mgmtWrite("CreateLogStore", (*call).createLogstore)
		}
		return unknown
	case 1:
		switch method {
		case http.MethodGet:
			switch q.Get("type") {
			case "histogram":
				return dataRoute("GetHistograms", false, (*call).getHistograms)
			case "log":
				return dataRoute("GetLogs", false, (*call).getLogsV2)
			case "":
				return mgmtRead("GetLogStore", (*call).getLogstore)
			}
			return unknown
		case http.MethodPut:
			return mgmtWrite("UpdateLogStore", (*call).updateLogstore)
		case http.MethodDelete:
			return mgmtWrite("DeleteLogStore", (*call).deleteLogstore)
		case http.MethodPost:
			return dataRoute("PutLogs", true, (*call).putLogs)
		}
		return unknown
	}
	switch segs[1] {
	case "logs":
		if len(segs) == 2 && method == http.MethodPost {
			return dataRoute("GetLogs", false, (*call).getLogsV3)
		}
	case "index":
		if len(segs) != 2 {
			return unknown
		}
		switch method {
		case http.MethodPost:
			return mgmtWrite("CreateIndex", (*call).createIndex)
		case http.MethodPut:
			return mgmtWrite("UpdateIndex", (*call).updateIndex)
		case http.MethodGet:
			return mgmtRead("GetIndex", (*call).getIndex)
		case http.MethodDelete:
			return mgmtWrite("DeleteIndex", (*call).deleteIndex)
		}
	case "shards":
		return resolveShards(method, segs, q)
	case "consumergroups":
		return resolveConsumerGroups(method, segs, q)
	}
	return unknown
}

func resolveShards(method string, segs []string, q url.Values) route {
	unknown := route{action: "Unknown"}
	switch {
	case len(segs) == 2 && method == http.MethodGet:
		return mgmtRead("ListShards", (*call).listShards)
	case len(segs) == 3 && method == http.MethodPost && (segs[2] == "lb" || segs[2] == "route"):
		return dataRoute("PutLogs", true, (*call).putLogs)
	case len(segs) == 3 && method == http.MethodPost:
		switch q.Get("action") {
		case "split":
			return mgmtWrite("SplitShard", (*call).splitShard)
		case "merge":
			return mgmtWrite("MergeShards", (*call).mergeShards)
		}
	case len(segs) == 3 && (method == http.MethodGet || method == http.MethodHead):
		switch q.Get("type") {
		case "cursor":
			return dataRoute("GetCursor", false, (*call).getCursor)
		case "cursor_time":
			return dataRoute("GetCursorTime", false, (*call).getCursorTime)
		case "logs", "log":
			return dataRoute("PullLogs", false, (*call).pullLogs)
		}
	}
	return unknown
}

func resolveConsumerGroups(method string, segs []string, q url.Values) route {
	unknown := route{action: "Unknown"}
	switch len(segs) {
	case 2:
		switch method {
		case http.MethodGet:
			return mgmtRead("ListConsumerGroup", (*call).listConsumerGroups)
		case http.MethodPost:
			return mgmtWrite("CreateConsumerGroup", (*call).createConsumerGroup)
		}
	case 3:
		switch method {
		case http.MethodGet:
			return dataRoute("GetCheckPoint", false, (*call).getCheckpoints)
		case http.MethodPut:
			return mgmtWrite("UpdateConsumerGroup", (*call).updateConsumerGroup)
		case http.MethodDelete:
			return mgmtWrite("DeleteConsumerGroup", (*call).deleteConsumerGroup)
		case http.MethodPost:
			switch q.Get("type") {
			case "heartbeat":
				return dataRoute("ConsumerGroupHeartBeat", true, (*call).heartbeat)
			case "checkpoint":
				return dataRoute("ConsumerGroupUpdateCheckPoint", true, (*call).updateCheckpoint)
			}
		}
	}
	return unknown
}

func resolveDashboard(method string, segs []string) route {
	unknown := route{action: "Unknown"}
	switch len(segs) {
	case 0:
		switch method {
		case http.MethodGet:
			return mgmtRead("ListDashboard", (*call).listDashboards)
		case http.MethodPost:
			return mgmtWrite("CreateDashboard", (*call).createDashboard)
		}
	case 1:
		switch method {
		case http.MethodGet:
			return mgmtRead("GetDashboard", (*call).getDashboard)
		case http.MethodPut:
			return mgmtWrite("UpdateDashboard", (*call).updateDashboard)
		case http.MethodDelete:
			return mgmtWrite("DeleteDashboard", (*call).deleteDashboard)
		}
	case 2:
		if segs[1] != "charts" {
			return unknown
		}
		switch method {
		case http.MethodPost:
			return mgmtWrite("CreateChart", (*call).createChart)
		case http.MethodPut:
			return mgmtWrite("UpdateChart", (*call).updateChart)
		}
	case 3:
		if segs[1] != "charts" {
			return unknown
		}
		switch method {
		case http.MethodGet:
			return mgmtRead("GetChart", (*call).getChart)
		case http.MethodDelete:
			return mgmtWrite("DeleteChart", (*call).deleteChart)
		}
	}
	return unknown
}
