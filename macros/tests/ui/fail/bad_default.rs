use rookery::{ModelEnum, TenantModel};

#[derive(Debug, Clone, Copy, ModelEnum)]
pub enum Status {
    Active,
    Archived,
}

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    #[rookery(default = "actve")]
    pub status: Status,
}

fn main() {}
