use rookery::TenantModel;

#[derive(TenantModel)]
#[rookery(permissions(read = "leads.read", write = "leads.write"))]
pub struct Lead {
    #[rookery(searchable)]
    pub amount: i32,
    #[rookery(email)]
    pub seats: i64,
    #[rookery(email, url)]
    pub contact: String,
    #[rookery(url, default = "https://example.com")]
    pub site: String,
    #[rookery(indexed)]
    pub q: String,
}

fn main() {}
