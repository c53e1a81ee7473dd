use rookery::TenantModel;

mod foo {
    pub type String = std::string::String;
}

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    pub name: foo::String,
    pub when: rookery::chrono::DateTime<rookery::chrono::FixedOffset>,
    pub tags: Vec<String>,
    pub ratio: f64,
    pub note: Option<Option<String>>,
}

fn main() {}
