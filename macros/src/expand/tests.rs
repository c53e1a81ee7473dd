//! Expansion snapshots: what users get, pretty-printed.

use quote::quote;
use syn::DeriveInput;

fn pretty(tokens: proc_macro2::TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

fn tenant_model(input: proc_macro2::TokenStream) -> String {
    let input: DeriveInput = syn::parse2(input).expect("the fixture is a valid derive input");
    pretty(super::tenant_model(&input))
}

fn model_enum(input: proc_macro2::TokenStream) -> String {
    let input: DeriveInput = syn::parse2(input).expect("the fixture is a valid derive input");
    pretty(super::model_enum(&input))
}

#[test]
fn project() {
    insta::assert_snapshot!(tenant_model(quote! {
        #[rookery(
            permissions(read = "projects.read", write = "projects.write", delete = "projects.delete"),
            quota = "projects",
            audit,
            events(created, deleted),
        )]
        pub struct Project {
            /// Display name.
            #[rookery(max_len = 120, sortable)]
            pub name: String,
            #[rookery(text)]
            pub description: Option<String>,
            #[rookery(default = "active", indexed)]
            pub status: ProjectStatus,
            pub assignee: Option<rookery::UserId>,
        }
    }));
}

#[test]
fn task_with_uuid_key_and_reference() {
    insta::assert_snapshot!(tenant_model(quote! {
        #[rookery(
            table = "todo_items",
            id = "uuid",
            permissions(read = "tasks.read", write = "tasks.write"),
            sort = "title",
        )]
        pub(crate) struct Task {
            #[rookery(on_delete = "cascade")]
            pub(crate) project: ProjectId,
            #[rookery(column = "heading", min = 1, sortable)]
            pub(crate) title: String,
        }
    }));
}

#[test]
fn errors_come_with_fallback_impls() {
    insta::assert_snapshot!(tenant_model(quote! {
        #[rookery(tabel = "x")]
        pub struct Project {
            #[rookery(max_len = "x")]
            pub name: String,
        }
    }));
}

#[test]
fn project_status() {
    insta::assert_snapshot!(model_enum(quote! {
        pub enum ProjectStatus {
            Active,
            #[rookery(rename = "archived")]
            Shelved,
        }
    }));
}
