use rookery::TenantModel;

mod my {
    pub type Text = rookery::uuid::Uuid;
}

// `String` below is not std's: the core reads a string, the compiler a uuid.
use my::Text as String;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    pub name: String,
}

fn main() {}
