use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(tabel = "projects", permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    #[rookery(maxlen = 10, sortable)]
    pub name: String,
    #[rookery(quota = "x")]
    pub other: String,
}

fn main() {
    // The fallback impls keep this quiet.
    let _ = Project::router();
    let _: Option<ProjectId> = None;
}
