use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "a.read", write = "a.write"), events(created, creatd, created))]
pub struct Activity {
    pub title: String,
}

#[derive(TenantModel)]
#[rookery(permissions(read = "b.read", write = "b.write"), events)]
pub struct Bare {
    pub title: String,
}

#[derive(TenantModel)]
#[rookery(permissions(read = "c.read", write = "c.write"), events())]
pub struct Empty {
    pub title: String,
}

fn main() {}
