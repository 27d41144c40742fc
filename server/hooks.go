package server

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/causeway-rca/causeway"
	"github.com/causeway-rca/causeway/collectors/alertmanager"
	"github.com/causeway-rca/causeway/investigate"
	"github.com/causeway-rca/causeway/store"
)

// alertHook is POST /v1/hooks/alertmanager: a firing notification opens an
// incident for its episode (re-sends find the same one) and, when the
// server is configured to, queues an investigation of the alerts'
// namespaces.
func (s *Server) alertHook() *alertmanager.Handler {
	h := alertmanager.NewHandler(s.openAlertIncident)
	h.Investigate = s.Config.AlertInvestigate
	h.Logger = s.Logger
	return h
}

func (s *Server) openAlertIncident(ctx context.Context, req alertmanager.Request) (*causeway.Incident, error) {
	inc, err := s.DB.IncidentByKey(ctx, req.Key)
	if err == nil {
		return inc, nil // a re-send of an episode already opened
	}
	if causeway.ErrorCode(err) != causeway.ENOTFOUND {
		return nil, err
	}
	inc = req.Incident()
	if err := s.DB.CreateIncident(ctx, inc); err != nil {
		if causeway.ErrorCode(err) == causeway.ECONFLICT { // a concurrent re-send won
			return s.DB.IncidentByKey(ctx, req.Key)
		}
		return nil, err
	}
	if !req.Investigate || len(req.Namespaces) == 0 {
		return inc, nil
	}
	scope := investigate.Scope{
		Window:  &investigate.Window{Start: inc.WindowStart, End: inc.WindowEnd},
		Sources: []investigate.ScopeSource{{Type: "k8s", Namespaces: req.Namespaces}},
	}
	raw, err := json.Marshal(scope)
	if err != nil {
		return nil, fmt.Errorf("alert scope: %w", err)
	}
	_, _, err = s.DB.Enqueue(ctx, &store.NewJob{
		Investigation:  &causeway.Investigation{IncidentID: inc.ID, Question: inc.Question},
		Scope:          raw,
		IdempotencyKey: "alertmanager:" + req.Key,
	})
	if err != nil {
		return nil, fmt.Errorf("queue the alert's investigation: %w", err)
	}
	s.pool.wake()
	return inc, nil
}
