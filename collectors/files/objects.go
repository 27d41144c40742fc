package files

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/causeway-rca/causeway"
)

// kubeObject is any Kubernetes object. Its status is kept raw and read
// field by field, so that a custom resource with an odd field loses that
// field, not its conditions.
type kubeObject struct {
	Kind     string                     `json:"kind"`
	Metadata objectMeta                 `json:"metadata"`
	Spec     map[string]json.RawMessage `json:"spec"`
	Status   map[string]json.RawMessage `json:"status"`
}

type condition struct {
	Type               string  `json:"type"`
	Status             string  `json:"status"`
	Reason             string  `json:"reason"`
	Message            string  `json:"message"`
	LastTransitionTime apiTime `json:"lastTransitionTime"`
	LastUpdateTime     apiTime `json:"lastUpdateTime"`
}

// policyRef is a Gateway API parentRef or ancestorRef.
type policyRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// refStatus is one entry of status.ancestors (policies) or status.parents
// (routes), where the Gateway API keeps conditions per attachment.
type refStatus struct {
	AncestorRef    *policyRef  `json:"ancestorRef"`
	ParentRef      *policyRef  `json:"parentRef"`
	ControllerName string      `json:"controllerName"`
	Conditions     []condition `json:"conditions"`
}

type containerState struct {
	Waiting *struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"waiting"`
	Terminated *struct {
		Reason     string  `json:"reason"`
		Message    string  `json:"message"`
		ExitCode   int     `json:"exitCode"`
		Signal     int     `json:"signal"`
		StartedAt  apiTime `json:"startedAt"`
		FinishedAt apiTime `json:"finishedAt"`
	} `json:"terminated"`
}

type containerStatus struct {
	Name         string         `json:"name"`
	Ready        bool           `json:"ready"`
	RestartCount int64          `json:"restartCount"`
	State        containerState `json:"state"`
	LastState    containerState `json:"lastState"`
}

// parseObjects reads `kubectl get <kind> -o json` (a List or one object).
// Every status condition becomes a condition line; container states,
// replica counts and phases become status lines.
//
// A status with no time of its own (a waiting container, replica counts,
// a phase) is placed at the latest time the object records anywhere,
// flagged TimeInferred: it was observed no earlier than that, and placing
// it at creation would put a current CrashLoopBackOff days in the past.
func parseObjects(o *out, data []byte) error {
	items, err := listItems(data)
	if err != nil {
		return err
	}
	return decodeItems(o, items, "object", func(_ int, obj *kubeObject) error {
		for _, l := range objectLines(o, obj) {
			if err := o.addText(l); err != nil {
				return err
			}
		}
		return nil
	})
}

func objectLines(o *out, obj *kubeObject) []causeway.Line {
	kind := firstNonEmpty(obj.Kind, "Object")
	name := obj.Metadata.Name
	if obj.Metadata.Namespace != "" {
		name = obj.Metadata.Namespace + "/" + name
	}
	subject := kind + " " + name
	latest := obj.Metadata.CreationTimestamp.Time
	var lines []causeway.Line
	add := func(kindOf causeway.LineKind, t time.Time, text string, extra ...string) {
		attrs := o.attrs(4 + len(extra)/2)
		attrs["namespace"] = obj.Metadata.Namespace
		attrs["kind"] = kind
		attrs["name"] = obj.Metadata.Name
		objectAttrs(attrs, kind, obj.Metadata.Name)
		for i := 0; i+1 < len(extra); i += 2 {
			attrs[extra[i]] = extra[i+1]
		}
		if t.After(latest) {
			latest = t
		}
		lines = append(lines, causeway.Line{Kind: kindOf, Time: t, Text: text, Attrs: attrs})
	}
	addCondition := func(c condition, suffix string, extra ...string) {
		var b strings.Builder
		b.WriteString(subject + " " + c.Type + "=" + c.Status)
		if c.Reason != "" {
			b.WriteString(" reason=" + c.Reason)
		}
		if c.Message != "" {
			b.WriteString(": " + c.Message)
		}
		b.WriteString(suffix)
		t := firstTime(c.LastTransitionTime.Time, c.LastUpdateTime.Time)
		add(causeway.LineCondition, t, b.String(),
			append([]string{"condition", c.Type, "status", c.Status, "reason", c.Reason}, extra...)...)
	}

	if conds, ok := field[[]condition](obj.Status, "conditions"); ok {
		for _, c := range conds {
			addCondition(c, "")
		}
	}
	for _, key := range [...]string{"ancestors", "parents"} {
		refs, _ := field[[]refStatus](obj.Status, key)
		for _, r := range refs {
			role, ref := "ancestor", r.AncestorRef
			if ref == nil {
				role, ref = "parent", r.ParentRef
			}
			suffix, refName := "", ""
			if ref != nil {
				refName = firstNonEmpty(ref.Kind, "Gateway") + " " + joinNS(ref.Namespace, ref.Name)
				suffix = " (" + role + ": " + refName + ")"
			}
			for _, c := range r.Conditions {
				addCondition(c, suffix, role, refName)
			}
		}
	}
	if text := phaseText(obj); text != "" {
		add(causeway.LineStatus, time.Time{}, subject+" "+text)
	}
	for _, group := range [...]struct{ key, label string }{
		{"initContainerStatuses", "init container"},
		{"containerStatuses", "container"},
		{"ephemeralContainerStatuses", "ephemeral container"},
	} {
		statuses, _ := field[[]containerStatus](obj.Status, group.key)
		for _, cs := range statuses {
			prefix := subject + " " + group.label + " " + cs.Name
			if t := cs.LastState.Terminated; t != nil {
				add(causeway.LineStatus, firstTime(t.FinishedAt.Time, t.StartedAt.Time),
					prefix+" last terminated"+terminatedText(t.Reason, t.ExitCode, t.Signal, t.Message),
					"container", cs.Name, "state", "last-terminated", "reason", t.Reason, "exit_code", strconv.Itoa(t.ExitCode))
			}
			if t := cs.State.Terminated; t != nil {
				add(causeway.LineStatus, firstTime(t.FinishedAt.Time, t.StartedAt.Time),
					prefix+" terminated"+terminatedText(t.Reason, t.ExitCode, t.Signal, t.Message),
					"container", cs.Name, "state", "terminated", "reason", t.Reason, "exit_code", strconv.Itoa(t.ExitCode))
			}
			if w := cs.State.Waiting; w != nil {
				text := prefix + " waiting"
				if w.Reason != "" {
					text += " reason=" + w.Reason
				}
				if w.Message != "" {
					text += ": " + w.Message
				}
				add(causeway.LineStatus, time.Time{}, text, "container", cs.Name, "state", "waiting", "reason", w.Reason)
			}
			if cs.RestartCount > 0 {
				add(causeway.LineStatus, time.Time{},
					prefix+" restarts="+strconv.FormatInt(cs.RestartCount, 10)+" ready="+strconv.FormatBool(cs.Ready),
					"container", cs.Name, "restarts", strconv.FormatInt(cs.RestartCount, 10))
			}
		}
	}
	if text := replicaText(kind, obj); text != "" {
		add(causeway.LineStatus, time.Time{}, subject+" "+text)
	}

	for i := range lines {
		if lines[i].Time.IsZero() && !latest.IsZero() {
			lines[i].Time, lines[i].TimeInferred = latest, true
		}
	}
	return lines
}

func joinNS(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func terminatedText(reason string, exit, signal int, msg string) string {
	var b strings.Builder
	if reason != "" {
		b.WriteString(" reason=" + reason)
	}
	b.WriteString(" exitCode=" + strconv.Itoa(exit))
	if signal != 0 {
		b.WriteString(" signal=" + strconv.Itoa(signal))
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	return b.String()
}

// phaseText renders status.phase, reason and message, the summary that
// pods and many custom resources keep outside conditions. A running or
// finished pod says nothing worth a line.
func phaseText(obj *kubeObject) string {
	phase, _ := field[string](obj.Status, "phase")
	if phase == "" {
		phase, _ = field[string](obj.Status, "state")
	}
	reason, _ := field[string](obj.Status, "reason")
	msg, _ := field[string](obj.Status, "message")
	if phase == "" && reason == "" && msg == "" {
		return ""
	}
	if obj.Kind == "Pod" && (phase == "Running" || phase == "Succeeded") && reason == "" && msg == "" {
		return ""
	}
	var parts []string
	if phase != "" {
		parts = append(parts, "phase="+phase)
	}
	if reason != "" {
		parts = append(parts, "reason="+reason)
	}
	text := strings.Join(parts, " ")
	if msg != "" {
		text += ": " + msg
	}
	return strings.TrimPrefix(text, ": ")
}

// replicaText summarizes the replica counts of workloads and autoscalers.
// Kubernetes omits zero counts, so a missing count of a workload reads 0.
func replicaText(kind string, obj *kubeObject) string {
	type count struct{ label, from, key string }
	var counts []count
	switch {
	case kind == "HorizontalPodAutoscaler":
		counts = []count{{"current", "status", "currentReplicas"}, {"desired", "status", "desiredReplicas"},
			{"min", "spec", "minReplicas"}, {"max", "spec", "maxReplicas"}}
	case kind == "DaemonSet":
		counts = []count{{"desired", "status", "desiredNumberScheduled"}, {"current", "status", "currentNumberScheduled"},
			{"ready", "status", "numberReady"}, {"available", "status", "numberAvailable"},
			{"unavailable", "status", "numberUnavailable"}, {"updated", "status", "updatedNumberScheduled"},
			{"misscheduled", "status", "numberMisscheduled"}}
	case kind == "Job":
		counts = []count{{"completions", "spec", "completions"}, {"active", "status", "active"},
			{"succeeded", "status", "succeeded"}, {"failed", "status", "failed"}}
	case obj.Status["replicas"] != nil || obj.Status["readyReplicas"] != nil ||
		kind == "Deployment" || kind == "StatefulSet" || kind == "ReplicaSet":
		counts = []count{{"desired", "spec", "replicas"}, {"current", "status", "replicas"},
			{"updated", "status", "updatedReplicas"}, {"ready", "status", "readyReplicas"},
			{"available", "status", "availableReplicas"}, {"unavailable", "status", "unavailableReplicas"}}
	default:
		return ""
	}
	if obj.Status == nil && obj.Spec == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("replicas")
	if kind == "Job" {
		b.Reset()
		b.WriteString("pods")
	}
	for _, c := range counts {
		m := obj.Status
		if c.from == "spec" {
			m = obj.Spec
		}
		v, ok := field[int64](m, c.key)
		if !ok && (c.from == "spec" || c.label == "unavailable") {
			continue // absent from spec means unset; unavailable only matters when set
		}
		b.WriteString(" " + c.label + "=" + strconv.FormatInt(v, 10))
	}
	if kind == "HorizontalPodAutoscaler" {
		if ref, ok := field[policyRef](obj.Spec, "scaleTargetRef"); ok && ref.Name != "" {
			b.WriteString(" target=" + ref.Kind + "/" + ref.Name)
		}
	}
	return b.String()
}

// field decodes one member of a raw object, reporting false when it is
// absent or not of type T.
func field[T any](m map[string]json.RawMessage, key string) (T, bool) {
	var v T
	raw, ok := m[key]
	if !ok || json.Unmarshal(raw, &v) != nil {
		return v, false
	}
	return v, true
}
