package files

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// apiTime is a time member of an API object: RFC 3339 (Kubernetes Time and
// MicroTime), Jira's "2025-08-21T04:10:00.000+0000", an epoch number, or
// null. A value it cannot read is left zero rather than failing the
// record: an event without its time is still evidence.
type apiTime struct{ time.Time }

func (t *apiTime) UnmarshalJSON(b []byte) error {
	if v, ok := jsonTime(b); ok {
		t.Time = v
	}
	return nil
}

// objectMeta is the part of metadata Causeway reads.
type objectMeta struct {
	Name              string  `json:"name"`
	Namespace         string  `json:"namespace"`
	CreationTimestamp apiTime `json:"creationTimestamp"`
}

// objectRef names the object an event is about.
type objectRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	FieldPath string `json:"fieldPath"`
}

// kubeEvent is a core/v1 Event or an events.k8s.io/v1 Event; the two name
// the same things differently.
type kubeEvent struct {
	Metadata       objectMeta `json:"metadata"`
	InvolvedObject objectRef  `json:"involvedObject"` // core/v1
	Regarding      objectRef  `json:"regarding"`      // events.k8s.io/v1
	Reason         string     `json:"reason"`
	Message        string     `json:"message"` // core/v1
	Note           string     `json:"note"`    // events.k8s.io/v1
	Type           string     `json:"type"`
	Count          int64      `json:"count"`
	DeprecatedCnt  int64      `json:"deprecatedCount"`
	Series         *struct {
		Count            int64   `json:"count"`
		LastObservedTime apiTime `json:"lastObservedTime"`
	} `json:"series"`
	FirstTimestamp           apiTime `json:"firstTimestamp"`
	LastTimestamp            apiTime `json:"lastTimestamp"`
	EventTime                apiTime `json:"eventTime"`
	DeprecatedFirstTimestamp apiTime `json:"deprecatedFirstTimestamp"`
	DeprecatedLastTimestamp  apiTime `json:"deprecatedLastTimestamp"`
	Source                   struct {
		Component string `json:"component"`
		Host      string `json:"host"`
	} `json:"source"`
	DeprecatedSource struct {
		Component string `json:"component"`
		Host      string `json:"host"`
	} `json:"deprecatedSource"`
	ReportingController string `json:"reportingController"` // events.k8s.io/v1
	ReportingComponent  string `json:"reportingComponent"`  // core/v1
}

// kubeList is a Kubernetes List, or a single object when Items is nil.
type kubeList struct {
	Kind  string            `json:"kind"`
	Items []json.RawMessage `json:"items"`
}

// listItems returns the objects of a List, of a bare JSON array, or the
// single object that data is.
func listItems(data []byte) ([]json.RawMessage, error) {
	i := skipWS(data, 0)
	if i < len(data) && data[i] == '[' {
		var items []json.RawMessage
		err := json.Unmarshal(data, &items)
		return items, err
	}
	var l kubeList
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, err
	}
	if l.Items != nil || strings.HasSuffix(l.Kind, "List") {
		return l.Items, nil
	}
	return []json.RawMessage{data}, nil
}

// parseEvents reads `kubectl get events -o json`: one line per event, at
// the time it was last seen.
func parseEvents(o *out, data []byte) error {
	items, err := listItems(data)
	if err != nil {
		return err
	}
	return decodeItems(o, items, "event", func(_ int, e *kubeEvent) error {
		return o.addText(eventLine(o, e))
	})
}

// eventLine renders an event as kubectl would summarize it:
// "Warning BackOff pod/web-5d8f (ns default): Back-off restarting failed container app (x12)".
func eventLine(o *out, e *kubeEvent) causeway.Line {
	ref := e.InvolvedObject
	if ref.Kind == "" && ref.Name == "" {
		ref = e.Regarding
	}
	// Events about cluster-scoped objects (nodes) live in "default"; the
	// object's own namespace is the one that means something.
	ns := ref.Namespace
	msg := e.Message
	if msg == "" {
		msg = e.Note
	}
	count := e.Count
	if e.Series != nil && e.Series.Count > count {
		count = e.Series.Count
	}
	count = max(count, e.DeprecatedCnt)
	component := firstNonEmpty(e.Source.Component, e.ReportingController, e.ReportingComponent, e.DeprecatedSource.Component)
	var seriesLast time.Time
	if e.Series != nil {
		seriesLast = e.Series.LastObservedTime.Time
	}
	t := firstTime(e.LastTimestamp.Time, seriesLast, e.DeprecatedLastTimestamp.Time, e.EventTime.Time,
		e.FirstTimestamp.Time, e.DeprecatedFirstTimestamp.Time, e.Metadata.CreationTimestamp.Time)

	var b strings.Builder
	b.WriteString(firstNonEmpty(e.Type, "Normal"))
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	}
	b.WriteString(" " + strings.ToLower(firstNonEmpty(ref.Kind, "object")) + "/" + ref.Name)
	if ns != "" {
		b.WriteString(" (ns " + ns + ")")
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	if count > 1 {
		b.WriteString(" (x" + strconv.FormatInt(count, 10) + ")")
	}

	attrs := o.attrs(8)
	attrs["namespace"] = ns
	attrs["kind"] = ref.Kind
	attrs["name"] = ref.Name
	attrs["reason"] = e.Reason
	attrs["type"] = e.Type
	attrs["component"] = component
	if count > 0 {
		attrs["count"] = strconv.FormatInt(count, 10)
	}
	objectAttrs(attrs, ref.Kind, ref.Name)
	if host := firstNonEmpty(e.Source.Host, e.DeprecatedSource.Host); host != "" {
		attrs["node"] = host
	}
	return causeway.Line{Kind: causeway.LineEvent, Time: t, Text: b.String(), Attrs: attrs}
}

// objectAttrs names a pod or node under the attribute the packer groups
// neighbours by.
func objectAttrs(attrs map[string]string, kind, name string) {
	switch kind {
	case "Pod":
		attrs["pod"] = name
	case "Node":
		attrs["node"] = name
	}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstTime(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
