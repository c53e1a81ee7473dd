use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(sort = "-nme", permissions(read = "a.read", write = "a.write"))]
pub struct Project {
    pub name: String,
}

#[derive(TenantModel)]
#[rookery(sort = "title", permissions(read = "a.read", write = "a.write"))]
pub struct Task {
    pub title: String,
}

fn main() {}
