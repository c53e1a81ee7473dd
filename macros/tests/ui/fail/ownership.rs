use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "deals.read", write = "deals.write", assign = "deals.assign"))]
pub struct Deal {
    #[rookery(owner)]
    pub owner: Option<rookery::UserId>,
    #[rookery(owner)]
    pub second: rookery::UserId,
    #[rookery(read_only)]
    pub score: i32,
    #[rookery(write = "deals.approve", read_only, default = false)]
    pub approved: bool,
}

#[derive(TenantModel)]
#[rookery(permissions(read = "tags.read", write = "tags.write", assign = "tags.assign"))]
pub struct Tag {
    pub name: String,
}

fn main() {}
