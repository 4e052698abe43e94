package normalize

import specsv1alpha4 "github.com/smi-adapter/smi-adapter/core/apis/specs/v1alpha4"

type specsMatch = specsv1alpha4.HTTPMatch
