package sls

import (
	"sort"
	"strings"
	"time"
)

// dashboard keeps the JSON a caller sent (charts, display, attributes) so GetDashboard returns it.
type dashboard struct {
	name     string
	doc      map[string]any
	modified time.Time
}

func validDashboardName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// decodeDashboard reads a dashboard body; charts must be a list of objects with a title.
func (c *call) decodeDashboard() (map[string]any, string, *apiError) {
	var doc map[string]any
	if err := c.decodeJSON(&doc); err != nil {
		return nil, "", err
	}
	if doc == nil {
		return nil, "", errParam("The body is not valid json string: a dashboard must be a JSON object")
	}
	name, _ := doc["dashboardName"].(string)
	if charts, ok := doc["charts"]; ok && charts != nil {
		list, ok := charts.([]any)
		if !ok {
			return nil, "", errParam("charts must be a list of charts")
		}
		for i, ch := range list {
			m, ok := ch.(map[string]any)
			if !ok {
				return nil, "", errParam("chart %d must be an object", i)
			}
			if t, _ := m["title"].(string); t == "" {
				return nil, "", errParam("chart %d needs a title", i)
			}
		}
	} else {
		doc["charts"] = []any{}
	}
	return doc, name, nil
}

func (c *call) dashboardParam(name string) {
	c.param("DashboardName", name)
	c.resourceType, c.resourceName = "ACS::SLS::Dashboard", c.project+"/"+name
}

func (c *call) createDashboard() error {
	doc, name, err := c.decodeDashboard()
	if err != nil {
		return err
	}
	c.dashboardParam(name)
	if !validDashboardName(name) {
		return errParam("dashboardName %q is invalid: it must be 1 to 128 letters, digits, hyphens and underscores", name)
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, perr := c.projectLocked()
	if perr != nil {
		return perr
	}
	if _, ok := p.dashboards[name]; ok {
		return errorf(400, "DashboardAlreadyExist", "dashboard %s already exists", name)
	}
	p.dashboards[name] = &dashboard{name: name, doc: doc, modified: c.now}
	return nil
}

func (c *call) dashboardLocked(name string) (*project, *dashboard, *apiError) {
	p, err := c.projectLocked()
	if err != nil {
		return nil, nil, err
	}
	d := p.dashboards[name]
	if d == nil {
		return p, nil, errorf(404, "DashboardNotExist", "dashboard %s does not exist", name)
	}
	return p, d, nil
}

func (c *call) getDashboard() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, d, err := c.dashboardLocked(c.segs[1])
	if err != nil {
		return err
	}
	return c.json(d.doc)
}

func (c *call) updateDashboard() error {
	name := c.segs[1]
	c.dashboardParam(name)
	doc, bodyName, err := c.decodeDashboard()
	if err != nil {
		return err
	}
	if bodyName != "" && bodyName != name {
		return errParam("dashboardName %q in the body differs from the dashboard %q of the path", bodyName, name)
	}
	doc["dashboardName"] = name
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, d, derr := c.dashboardLocked(name)
	if derr != nil {
		return derr
	}
	d.doc, d.modified = doc, c.now
	return nil
}

func (c *call) deleteDashboard() error {
	name := c.segs[1]
	c.dashboardParam(name)
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, _, err := c.dashboardLocked(name)
	if err != nil {
		return err
	}
	delete(p.dashboards, name)
	return nil
}

// listDashboards answers ListDashboard; the Go SDK sends dashboardName, offset and size as
// HTTP headers, other clients as query parameters, so both are read.
func (c *call) listDashboards() error {
	offset, size, perr := c.pageParams(500, 500)
	if perr != nil {
		return perr
	}
	filter := c.query.Get("dashboardName")
	if filter == "" {
		filter = c.r.Header.Get("dashboardName")
	}
	type item struct {
		DashboardName string `json:"dashboardName"`
		DisplayName   string `json:"displayName"`
	}
	var all []item
	var err *apiError
	c.s.read(func() {
		var p *project
		if p, err = c.projectLocked(); err != nil {
			return
		}
		for name, d := range p.dashboards {
			if filter != "" && !strings.Contains(name, filter) {
				continue
			}
			display, _ := d.doc["displayName"].(string)
			all = append(all, item{name, display})
		}
	})
	if err != nil {
		return err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].DashboardName < all[j].DashboardName })
	items := page(all, offset, size)
	names := make([]string, len(items))
	for i, it := range items {
		names[i] = it.DashboardName
	}
	return c.json(struct {
		Dashboards     []string `json:"dashboards"`
		DashboardItems []item   `json:"dashboardItems"`
		Count          int      `json:"count"`
		Total          int      `json:"total"`
	}{names, items, len(items), len(all)})
}

func chartsOf(d *dashboard) []any {
	list, _ := d.doc["charts"].([]any)
	return list
}

func chartTitle(ch any) string {
	m, _ := ch.(map[string]any)
	t, _ := m["title"].(string)
	return t
}

// decodeChart reads one chart body: an object with a title.
func (c *call) decodeChart() (map[string]any, *apiError) {
	var ch map[string]any
	if err := c.decodeJSON(&ch); err != nil {
		return nil, err
	}
	if t, _ := ch["title"].(string); t == "" {
		return nil, errParam("a chart needs a title")
	}
	return ch, nil
}

func (c *call) createChart() error { return c.putChart(true) }
func (c *call) updateChart() error { return c.putChart(false) }

func (c *call) putChart(create bool) error {
	c.dashboardParam(c.segs[1])
	ch, err := c.decodeChart()
	if err != nil {
		return err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, d, derr := c.dashboardLocked(c.segs[1])
	if derr != nil {
		return derr
	}
	list := chartsOf(d)
	for i, o := range list {
		if chartTitle(o) == chartTitle(ch) {
			if create {
				return errorf(400, "ChartAlreadyExist", "chart %s already exists", chartTitle(ch))
			}
			list[i] = ch
			d.modified = c.now
			return nil
		}
	}
	if !create {
		return errorf(404, "ChartNotExist", "chart %s does not exist", chartTitle(ch))
	}
	d.doc["charts"] = append(list, ch)
	d.modified = c.now
	return nil
}

func (c *call) getChart() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	_, d, err := c.dashboardLocked(c.segs[1])
	if err != nil {
		return err
	}
	for _, ch := range chartsOf(d) {
		if chartTitle(ch) == c.segs[3] {
			return c.json(ch)
		}
	}
	return errorf(404, "ChartNotExist", "chart %s does not exist", c.segs[3])
}

func (c *call) deleteChart() error {
	c.dashboardParam(c.segs[1])
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	_, d, err := c.dashboardLocked(c.segs[1])
	if err != nil {
		return err
	}
	list := chartsOf(d)
	for i, ch := range list {
		if chartTitle(ch) == c.segs[3] {
			d.doc["charts"] = append(list[:i:i], list[i+1:]...)
			d.modified = c.now
			return nil
		}
	}
	return errorf(404, "ChartNotExist", "chart %s does not exist", c.segs[3])
}
