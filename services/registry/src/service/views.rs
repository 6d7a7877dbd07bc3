//! Registry data as API bodies.

use chrono::{DateTime, Utc};
use whistle_schemas::Names;
use whistle_schemas::api::{HolderView, ItemView};
use whistle_schemas::events::DepartmentRef;
use whistle_schemas::registry::{DepartmentView, DistrictList, DistrictView, ItemDetail};

use crate::codes::{DepartmentCode, DistrictCode};
use crate::file::COMMAND_CENTRE;
use crate::model::{Holder, Item, Registry};

pub fn holder_view(registry: &Registry, holder: &Holder, district: Option<&DistrictCode>) -> HolderView {
    match holder {
        Holder::Towns => HolderView::Towns,
        Holder::DepartmentType(kind) => HolderView::Department {
            department_type: kind.clone(),
            names: registry
                .department_type_names(kind)
                .cloned()
                .unwrap_or_else(|| Names { zh: kind.clone(), en: kind.clone() }),
            code: district.map(|d| DepartmentCode::new(d, kind).to_string()),
        },
    }
}

/// An item with its holder at `at` in `district` (or city-wide).
pub fn item_view(registry: &Registry, item: &Item, district: Option<&DistrictCode>, at: DateTime<Utc>) -> ItemView {
    let assignment = match district {
        Some(d) => registry.holder_at(&item.code, d, at),
        None => registry.default_holder_at(&item.code, at),
    };
    ItemView {
        code: item.code.to_string(),
        names: item.names.clone(),
        category: item.category.clone(),
        legal_basis: item.legal_basis.clone(),
        illustrative: item.illustrative,
        subject_kinds: item.subject_kinds.clone(),
        persuade_first: item.persuade_first,
        authority: assignment.map(|a| a.authority),
        holder: assignment.map(|a| holder_view(registry, &a.holder, district)),
    }
}

pub fn item_detail(registry: &Registry, item: &Item, at: DateTime<Utc>) -> ItemDetail {
    let view = item_view(registry, item, None, at);
    ItemDetail {
        code: view.code,
        names: view.names,
        category: view.category,
        legal_basis: view.legal_basis,
        illustrative: view.illustrative,
        subject_kinds: view.subject_kinds,
        persuade_first: view.persuade_first,
        department_type: item.department_type.clone(),
        town_kinds: item.town_kinds.clone(),
        statutory: item.statutory.clone(),
        authority: view.authority,
        holder: view.holder,
        version: item.version,
        history: item.to_definition().holders,
        audit: item.audit.clone(),
    }
}

pub fn district_list(registry: &Registry) -> DistrictList {
    let districts = registry
        .districts()
        .map(|d| DistrictView {
            code: d.code.to_string(),
            names: d.names.clone(),
            kind: d.kind.clone(),
            illustrative: d.illustrative,
            towns: u32::try_from(registry.towns_of(&d.code).count()).unwrap_or(u32::MAX),
            departments: registry
                .departments_of(&d.code)
                .map(|dept| DepartmentView {
                    department: DepartmentRef { code: dept.code.to_string(), names: dept.names.clone() },
                    department_type: dept.department_type.clone(),
                    command_centre: dept.department_type == COMMAND_CENTRE,
                    vertical: dept.vertical.clone(),
                })
                .collect(),
        })
        .collect();
    DistrictList { districts }
}
