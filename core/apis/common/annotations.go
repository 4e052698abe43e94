package common

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// SetAnnotation sets or, for an empty value, removes an annotation.
func SetAnnotation(annotations *map[string]string, key, value string) {
	if value == "" {
		if *annotations != nil {
			delete(*annotations, key)
			if len(*annotations) == 0 {
				*annotations = nil
			}
		}
		return
	}
	if *annotations == nil {
		*annotations = map[string]string{}
	}
	(*annotations)[key] = value
}

// SaveHubSpec stores v (the parts of a hub spec an older version cannot
// express) under AnnotationHubSpec, or removes the annotation when save is false.
func SaveHubSpec(annotations *map[string]string, save bool, v any) error {
	if !save {
		SetAnnotation(annotations, AnnotationHubSpec, "")
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("save hub spec: %w", err)
	}
	SetAnnotation(annotations, AnnotationHubSpec, string(b))
	return nil
}

// TakeHubSpec decodes AnnotationHubSpec into v and removes it. It reports
// whether anything was restored; an unreadable annotation is dropped.
func TakeHubSpec(annotations *map[string]string, v any) bool {
	raw, ok := (*annotations)[AnnotationHubSpec]
	SetAnnotation(annotations, AnnotationHubSpec, "")
	if !ok {
		return false
	}
	return json.Unmarshal([]byte(raw), v) == nil
}

// DestinationPort reads AnnotationDestinationPort. ok is false when it is
// absent or not a canonical port number (1..65535); such a value stays in the
// annotations, where normalize reports it.
func DestinationPort(annotations map[string]string) (port int32, ok bool) {
	raw, present := annotations[AnnotationDestinationPort]
	if !present {
		return 0, false
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != raw {
		return 0, false
	}
	return int32(n), true
}
