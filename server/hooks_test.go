package server_test

import (
	"fmt"
	"testing"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/server"
)

const firing = `{"version":"4","status":"firing","receiver":"causeway","groupKey":"{}:{alertname=\"GatewayErrors\"}",
 "groupLabels":{"alertname":"GatewayErrors"},"commonLabels":{"alertname":"GatewayErrors","namespace":"aibrix-system","severity":"page"},
 "commonAnnotations":{"summary":"503s on the gateway"},"externalURL":"http://am",
 "alerts":[{"status":"firing","labels":{"alertname":"GatewayErrors","namespace":"aibrix-system"},
  "annotations":{"summary":"503s on the gateway"},"startsAt":"2025-08-21T03:50:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"a1"}]}`

func TestAlertmanagerHookOpensOneIncidentPerEpisode(t *testing.T) {
	e := newEnv(t, nil, withConfig(func(c *server.Config) { c.AlertInvestigate = true }))
	type reply struct {
		Status   string
		Key      string
		Incident causeway.Incident
	}
	var first, again reply
	e.call("POST", "/v1/hooks/alertmanager", firing, 202, &first)
	e.call("POST", "/v1/hooks/alertmanager", firing, 202, &again)
	if first.Incident.ID == 0 || again.Incident.ID != first.Incident.ID {
		t.Fatalf("re-sent notification opened incident %d, first was %d", again.Incident.ID, first.Incident.ID)
	}
	if first.Incident.WindowStart.IsZero() || !first.Incident.WindowStart.Before(first.Incident.WindowEnd) {
		t.Errorf("incident window %v – %v", first.Incident.WindowStart, first.Incident.WindowEnd)
	}
	// One investigation was queued for the episode, scoped to the alert's
	// namespace; this server has no k8s collector, so it reports that as a
	// source error and goes on.
	var list struct{ Investigations []investigation }
	e.call("GET", fmt.Sprintf("/v1/incidents/%d/investigations", first.Incident.ID), "", 200, &list)
	if len(list.Investigations) != 1 {
		t.Fatalf("%d investigations queued for one episode sent twice, want 1", len(list.Investigations))
	}
	inv := e.wait(list.Investigations[0].ID)
	if len(inv.SourceErrors) == 0 {
		t.Errorf("the scope's k8s source without a collector is not reported: %+v", inv)
	}
	e.call("POST", "/v1/hooks/alertmanager", `{"alerts": "nope"}`, 400, nil)
	e.call("POST", "/v1/hooks/alertmanager", firing, 401, nil, "Authorization", "")
}
