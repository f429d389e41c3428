package sls

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// projectTimeZone: project times are strings in China Standard Time, as the console and API
// show them for cn-* regions (the zone itself is UNVERIFIED; the string shape is verified).
var projectTimeZone = time.FixedZone("CST", 8*3600)

const projectTimeLayout = "2006-01-02 15:04:05"

// ramAction is the RAM action a route checks, as it appears in "denied by sts or ram" messages.
func ramAction(action string) string {
	switch action {
	case "PutLogs":
		return "PostLogStoreLogs"
	case "GetLogs":
		return "GetLogStoreLogs"
	case "GetHistograms":
		return "GetLogStoreHistogram"
	case "PullLogs", "GetCursor", "GetCursorTime":
		return "GetCursorOrData"
	}
	return action
}

// projectLocked resolves the call's project for its caller. A project of another account is
// refused as RAM refuses it; an assumed role of the owner account acts as the owner. Caller holds s.mu.
func (c *call) projectLocked() (*project, *apiError) {
	if c.project == "" {
		return nil, errParam("the Host header %q names no project: the SDK sends <project>.<endpoint>", c.r.Host)
	}
	p := c.s.projects[c.project]
	if p == nil {
		return nil, errProjectNotExist(c.project)
	}
	if p.owner != c.caller.AccountID {
		return nil, denied(ramAction(c.route.action), p.region, p.owner, fmtResource(p.name, ""))
	}
	return p, nil
}

// logstoreLocked resolves the project and one of its Logstores. Caller holds s.mu.
func (c *call) logstoreLocked(name string) (*project, *logstore, *apiError) {
	p, err := c.projectLocked()
	if err != nil {
		return nil, nil, err
	}
	ls := p.logstores[name]
	if ls == nil {
		return p, nil, errLogStoreNotExist(name)
	}
	return p, ls, nil
}

// validProjectName: 3 to 63 characters of [a-z0-9-], starting and ending with a letter or digit.
func validProjectName(n string) bool {
	if len(n) < 3 || len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		ch := n[i]
		alnum := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9'
		if !alnum && (ch != '-' || i == 0 || i == len(n)-1) {
			return false
		}
	}
	return true
}

type projectJSON struct {
	ProjectName        string `json:"projectName"`
	Description        string `json:"description"`
	Status             string `json:"status"`
	Owner              string `json:"owner"`
	Region             string `json:"region"`
	CreateTime         string `json:"createTime"`
	LastModifyTime     string `json:"lastModifyTime"`
	DataRedundancyType string `json:"dataRedundancyType"`
	Location           string `json:"location"`
	ResourceGroupID    string `json:"resourceGroupId"`
	RecycleBinEnabled  bool   `json:"recycleBinEnabled"`
}

func (p *project) json() projectJSON {
	return projectJSON{
		ProjectName: p.name, Description: p.description, Status: "Normal", Owner: p.owner, Region: p.region,
		CreateTime:         p.created.In(projectTimeZone).Format(projectTimeLayout),
		LastModifyTime:     p.modified.In(projectTimeZone).Format(projectTimeLayout),
		DataRedundancyType: p.redundancy, Location: p.region + "-b",
	}
}

func (s *Server) newProject(name, description, owner, region, redundancy string, now time.Time) *project {
	return &project{
		name: name, description: description, owner: owner, region: region, redundancy: redundancy,
		created: now, modified: now, logstores: map[string]*logstore{}, dashboards: map[string]*dashboard{},
	}
}

func (c *call) createProject() error {
	var body struct {
		ProjectName        string `json:"projectName"`
		Description        string `json:"description"`
		DataRedundancyType string `json:"dataRedundancyType"`
	}
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	name := body.ProjectName
	switch {
	case name == "":
		name = c.project
	case c.project != "" && name != c.project:
		return errParam("projectName %q in the body differs from the project %q of the Host header", name, c.project)
	}
	c.param("ProjectName", name)
	c.param("Description", body.Description)
	if !validProjectName(name) {
		return errParam("projectName %q is invalid: it must be 3 to 63 characters of lowercase letters, digits and hyphens, starting and ending with a letter or digit", name)
	}
	if len(body.Description) > 64 {
		return errParam("description must be at most 64 characters, got %d", len(body.Description))
	}
	red := body.DataRedundancyType
	switch red {
	case "":
		red = "LRS"
	case "LRS", "ZRS":
	default:
		return errParam("dataRedundancyType %q is invalid: it must be LRS or ZRS", red)
	}
	c.project = name
	c.resourceType, c.resourceName = "ACS::SLS::Project", name
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[name]; ok {
		return errorf(400, "ProjectAlreadyExist", "Project %s already exist", name)
	}
	s.projects[name] = s.newProject(name, body.Description, c.caller.AccountID, s.w.Region, red, c.now)
	return nil
}

func (c *call) getProject() error {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	p, err := c.projectLocked()
	if err != nil {
		return err
	}
	return c.json(p.json())
}

func (c *call) updateProject() error {
	var body struct {
		Description *string `json:"description"`
	}
	if err := c.decodeJSON(&body); err != nil {
		return err
	}
	c.resourceType, c.resourceName = "ACS::SLS::Project", c.project
	if body.Description != nil {
		c.param("Description", *body.Description)
		if len(*body.Description) > 64 {
			return errParam("description must be at most 64 characters, got %d", len(*body.Description))
		}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, err := c.projectLocked()
	if err != nil {
		return err
	}
	if body.Description != nil {
		p.description = *body.Description
	}
	p.modified = c.now
	return nil
}

func (c *call) deleteProject() error {
	c.resourceType, c.resourceName = "ACS::SLS::Project", c.project
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	p, err := c.projectLocked()
	if err != nil {
		return err
	}
	delete(c.s.projects, p.name)
	return nil
}

// pageParams reads offset and size (query parameters, or headers for the calls whose SDK sends
// them as headers) with a default and maximum size.
func (c *call) pageParams(def, max int) (offset, size int, err *apiError) {
	get := func(k string) string {
		if v := c.query.Get(k); v != "" {
			return v
		}
		return c.r.Header.Get(k)
	}
	offset, size = 0, def
	if v := get("offset"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, errParam("offset %q is invalid: it must be an integer >= 0", v)
		}
		offset = n
	}
	if v := get("size"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 || n > max {
			return 0, 0, errParam("size %q is invalid: it must be an integer from 0 to %d", v, max)
		}
		if n > 0 {
			size = n
		}
	}
	return offset, size, nil
}

func page[T any](all []T, offset, size int) []T {
	if offset >= len(all) {
		return []T{}
	}
	end := offset + size
	if end > len(all) {
		end = len(all)
	}
	return all[offset:end]
}

func (c *call) listProjects() error {
	offset, size, perr := c.pageParams(500, 500)
	if perr != nil {
		return perr
	}
	nameFilter, descFilter := c.query.Get("projectName"), c.query.Get("description")
	var all []projectJSON
	c.s.read(func() {
		for _, p := range c.s.projects {
			if p.owner != c.caller.AccountID {
				continue
			}
			if nameFilter != "" && !strings.Contains(p.name, nameFilter) {
				continue
			}
			if descFilter != "" && !strings.Contains(p.description, descFilter) {
				continue
			}
			all = append(all, p.json())
		}
	})
	sort.Slice(all, func(i, j int) bool { return all[i].ProjectName < all[j].ProjectName })
	items := page(all, offset, size)
	return c.json(struct {
		Count    int           `json:"count"`
		Total    int           `json:"total"`
		Projects []projectJSON `json:"projects"`
	}{len(items), len(all), items})
}
