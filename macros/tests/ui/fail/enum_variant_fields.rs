use rookery::ModelEnum;

#[derive(Debug, Clone, Copy, ModelEnum)]
pub enum Status {
    Active,
    Archived(u32),
}

fn main() {
    // The fallback impls keep this quiet.
    let _ = Status::Active.to_string();
}
