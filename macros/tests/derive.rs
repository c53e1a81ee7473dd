//! Behaviour of the derives against the real runtime.

use rookery::__private::{
    CreateInput, FieldType, KeyKind, ModelEnum as _, OnDelete, RefTarget, Sort, UpdateInput, Value, ValueReader,
};
use rookery::{ModelEnum, Record, TenantId, TenantModel, UserId};
use serde_json::json;

/// Lifecycle of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ModelEnum)]
pub enum ProjectStatus {
    /// Being worked on.
    Active,
    /// Read-only.
    #[rookery(rename = "archived")]
    Shelved,
    /// Two words.
    OnHold,
}

/// A project.
#[derive(Debug, Clone, PartialEq, TenantModel)]
#[rookery(
    id = "bigint",
    permissions(read = "projects.read", write = "projects.write", delete = "projects.delete"),
    quota = "projects",
    audit,
    sort = "name"
)]
pub struct Project {
    /// Display name.
    #[rookery(max_len = 120, sortable, unique)]
    pub name: String,
    /// Long description.
    #[rookery(text)]
    pub description: Option<String>,
    /// Status.
    #[rookery(default = "active", indexed)]
    pub status: ProjectStatus,
    /// Who owns it.
    pub owner: Option<UserId>,
    /// Budget in cents.
    #[rookery(min = 0, max = 1000000, default = 0)]
    pub budget: i64,
}

/// A task in a project.
#[derive(Debug, Clone, PartialEq, TenantModel)]
#[rookery(
    table = "todo_items",
    id = "uuid",
    permissions(read = "tasks.read", write = "tasks.write")
)]
pub struct Task {
    /// The project.
    #[rookery(on_delete = "cascade")]
    pub project: ProjectId,
    /// Stored under another column name.
    #[rookery(column = "heading")]
    pub title: String,
}

#[test]
fn project_def() {
    let def = Project::def();
    assert_eq!(def.name, "project");
    assert_eq!(def.table, "projects");
    assert_eq!(def.path, "projects");
    assert_eq!(Project::TABLE, "projects");
    assert_eq!(def.key, KeyKind::BigInt);
    assert_eq!(def.permissions.read, "projects.read");
    assert_eq!(def.permissions.delete, "projects.delete");
    assert_eq!(def.quota, Some("projects"));
    assert!(def.audit);
    assert_eq!(
        def.default_sort,
        Sort {
            field: "name",
            descending: false
        }
    );

    let names: Vec<_> = def.fields.iter().map(|f| (f.name, f.column)).collect();
    assert_eq!(
        names,
        [
            ("name", "name"),
            ("description", "description"),
            ("status", "status"),
            ("owner", "owner_id"),
            ("budget", "budget")
        ]
    );
    let name = def.field("name").unwrap();
    assert_eq!(name.ty, FieldType::String);
    assert_eq!(name.max_len, Some(120));
    assert!(name.sortable && name.unique && !name.optional && !name.indexed);
    let description = def.field("description").unwrap();
    assert_eq!(description.ty, FieldType::Text);
    assert!(description.optional);
    let status = def.field("status").unwrap();
    assert_eq!(status.ty, FieldType::Enum(&["active", "archived", "on_hold"]));
    assert_eq!(status.default, Some("active"));
    assert!(status.indexed);
    let owner = def.field("owner").unwrap();
    assert_eq!(
        owner.ty,
        FieldType::Ref(RefTarget {
            table: "memberships",
            column: "user_id",
            key: KeyKind::Uuid
        })
    );
    assert!(owner.optional);
    let budget = def.field("budget").unwrap();
    assert_eq!(
        (budget.min, budget.max, budget.default),
        (Some(0), Some(1_000_000), Some("0"))
    );
}

/// References named like their columns.
#[derive(Debug, Clone, TenantModel)]
#[rookery(permissions(read = "tasks.read", write = "tasks.write"))]
pub struct Assignment {
    /// Who.
    pub user_id: UserId,
    /// Where.
    pub project_id: Option<ProjectId>,
}

#[test]
fn a_reference_named_x_id_is_stored_in_x_id() {
    let def = Assignment::def();
    assert_eq!(def.field("user_id").unwrap().column, "user_id");
    assert_eq!(def.field("project_id").unwrap().column, "project_id");
}

#[test]
fn task_def() {
    let def = Task::def();
    assert_eq!(def.name, "task");
    assert_eq!(def.table, "todo_items");
    assert_eq!(def.key, KeyKind::Uuid);
    assert_eq!(def.permissions.delete, "tasks.write", "delete defaults to write");
    assert_eq!(def.quota, None);
    assert!(!def.audit);
    assert_eq!(
        def.default_sort,
        Sort {
            field: "created_at",
            descending: true
        }
    );
    let project = def.field("project").unwrap();
    assert_eq!(project.column, "project_id");
    assert_eq!(
        project.ty,
        FieldType::Ref(RefTarget {
            table: "projects",
            column: "id",
            key: KeyKind::BigInt
        })
    );
    assert_eq!(project.on_delete, OnDelete::Cascade);
    assert_eq!(def.field("title").unwrap().column, "heading");
}

fn project() -> Project {
    Project {
        name: "Apollo".into(),
        description: None,
        status: ProjectStatus::OnHold,
        owner: Some(UserId(rookery::uuid::Uuid::nil())),
        budget: 42,
    }
}

#[test]
fn values_round_trip() {
    let p = project();
    let values = p.to_values();
    assert_eq!(
        values,
        [
            Value::Text("Apollo".into()),
            Value::Null,
            Value::Text("on_hold".into()),
            Value::Uuid(rookery::uuid::Uuid::nil()),
            Value::BigInt(42),
        ]
    );
    let back = Project::from_values(&mut ValueReader::new(values)).unwrap();
    assert_eq!(back, p);

    let bad = vec![Value::Text("x".into()), Value::Null, Value::Text("nope".into())];
    let err = Project::from_values(&mut ValueReader::new(bad)).unwrap_err();
    assert_eq!(err.found, "text");
    assert!(err.expected.contains("`active`"), "{}", err.expected);
}

fn create(body: serde_json::Value) -> Result<Vec<Option<Value>>, serde_json::Error> {
    serde_json::from_value::<CreateProject>(body).map(CreateInput::into_values)
}

fn update(body: serde_json::Value) -> Result<Vec<(usize, Value)>, serde_json::Error> {
    serde_json::from_value::<UpdateProject>(body).map(UpdateInput::into_changes)
}

#[test]
fn create_input() {
    // Omitted optional and defaulted fields are None.
    assert_eq!(
        create(json!({ "name": "A" })).unwrap(),
        [Some(Value::Text("A".into())), None, None, None, None]
    );
    // Values given.
    assert_eq!(
        create(json!({ "name": "A", "description": "d", "status": "archived", "budget": 7 })).unwrap(),
        [
            Some(Value::Text("A".into())),
            Some(Value::Text("d".into())),
            Some(Value::Text("archived".into())),
            None,
            Some(Value::BigInt(7)),
        ]
    );
    // Explicit null on an optional field: null (no default to apply).
    assert_eq!(create(json!({ "name": "A", "description": null })).unwrap()[1], None);
    // A required field is required.
    assert!(
        create(json!({}))
            .unwrap_err()
            .to_string()
            .contains("missing field `name`")
    );
    // Null on a non-optional defaulted field is an error, not the default.
    assert!(create(json!({ "name": "A", "status": null })).is_err());
    // Unknown fields are rejected.
    let err = create(json!({ "name": "A", "colour": "red" })).unwrap_err().to_string();
    assert!(err.contains("unknown field `colour`"), "{err}");
    // Enum values are checked, listing the allowed ones.
    let err = create(json!({ "name": "A", "status": "done" }))
        .unwrap_err()
        .to_string();
    assert!(err.contains("one of `active`, `archived`, `on_hold`"), "{err}");
}

#[test]
fn update_input() {
    assert_eq!(update(json!({})).unwrap(), []);
    assert_eq!(
        update(json!({ "description": null, "budget": 3 })).unwrap(),
        [(1, Value::Null), (4, Value::BigInt(3))]
    );
    assert_eq!(
        update(json!({ "description": "x" })).unwrap(),
        [(1, Value::Text("x".into()))]
    );
    assert_eq!(update(json!({ "owner": null })).unwrap(), [(3, Value::Null)]);
    // Null cannot clear a required field.
    assert!(update(json!({ "name": null })).is_err());
    assert!(update(json!({ "id": 1 })).is_err());
    let typed = UpdateProject {
        name: Some("B".into()),
        ..UpdateProject::default()
    };
    assert_eq!(typed.into_changes(), [(0, Value::Text("B".into()))]);
}

#[test]
fn record_serialises_flat() {
    let created = rookery::chrono::DateTime::from_timestamp(0, 0).unwrap();
    let record: ProjectRecord = Record {
        id: ProjectId::new(7),
        tenant_id: TenantId(rookery::uuid::Uuid::nil()),
        created_at: created,
        updated_at: created,
        data: project(),
    };
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        json!({
            "id": 7,
            "tenant_id": "00000000-0000-0000-0000-000000000000",
            "created_at": "1970-01-01T00:00:00Z",
            "updated_at": "1970-01-01T00:00:00Z",
            "name": "Apollo",
            "description": null,
            "status": "on_hold",
            "owner": "00000000-0000-0000-0000-000000000000",
            "budget": 42,
        })
    );
}

#[test]
fn model_enum_round_trips() {
    assert_eq!(ProjectStatus::VALUES, ["active", "archived", "on_hold"]);
    for status in [ProjectStatus::Active, ProjectStatus::Shelved, ProjectStatus::OnHold] {
        let text = status.as_str();
        assert_eq!(ProjectStatus::from_str_value(text), Some(status));
        assert_eq!(text.parse::<ProjectStatus>().unwrap(), status);
        assert_eq!(status.to_string(), text);
        let json = serde_json::to_value(status).unwrap();
        assert_eq!(json, json!(text));
        assert_eq!(serde_json::from_value::<ProjectStatus>(json).unwrap(), status);
        use rookery::__private::FieldValue;
        assert_eq!(ProjectStatus::from_value(status.to_value()).unwrap(), status);
    }
    let err = "done".parse::<ProjectStatus>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown value `done`, expected one of: active, archived, on_hold"
    );
    assert_eq!(format!("[{:>8}]", ProjectStatus::Active), "[  active]");
}

#[test]
fn router_exists() {
    let _router: rookery::__private::axum::Router<rookery::__private::AppState> = Project::router();
}

/// A model without `table`: the English plural, the rule the generator
/// applies to the same struct (`rookery_macros_core::default_table`).
#[derive(Debug, Clone, TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Activity {
    /// What happened.
    pub what: String,
    /// Spelled with the crate paths the core accepts.
    pub at: Option<rookery::chrono::DateTime<rookery::chrono::Utc>>,
    /// By its full path.
    pub label: std::string::String,
}

#[test]
fn default_table_is_the_english_plural() {
    assert_eq!(Activity::TABLE, "activities");
    assert_eq!(Activity::def().field("at").unwrap().ty, FieldType::DateTime);
    assert_eq!(Activity::def().field("label").unwrap().ty, FieldType::String);
}
