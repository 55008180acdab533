//! Ansible's `community.sops` collection driving rsops installed as `sops`:
//! a playbook loads an rsops-encrypted vars file, reads a value through
//! the `sops` lookup, and writes a file with `community.sops.sops_encrypt`
//! that rsops and the reference sops then decrypt. `scripts/test.sh`
//! installs Ansible from PyPI; under `CI=true` a missing Ansible fails the
//! test instead of skipping it.

use super::common::{demo_key_file, ok, Scratch, DEMO_RECIPIENT};
use super::ecosystem::{install_as, python_user_base, tool};

const PLAYBOOK: &str = r#"- hosts: localhost
  gather_facts: false
  tasks:
    - name: load encrypted vars
      community.sops.load_vars:
        file: vars.sops.yaml
        name: loaded
    - name: read one value through the lookup
      ansible.builtin.set_fact:
        looked_up: "{{ lookup('community.sops.sops', 'vars.sops.yaml', extract='[\"db\"][\"user\"]') }}"
    - name: write what was decrypted
      ansible.builtin.copy:
        dest: out.txt
        content: "{{ loaded.db.password }}|{{ looked_up }}|{{ loaded.replicas }}\n"
    - name: encrypt a new file
      community.sops.sops_encrypt:
        path: written.sops.yaml
        content_yaml:
          token: t0ken-from-ansible
        age: ["RECIPIENT"]
"#;

#[test]
fn ansible_community_sops_loads_and_writes_files_with_rsops_as_sops() {
    let Some(playbook) = tool("ansible-playbook", &["--version"]) else {
        return;
    };
    let s = Scratch::new();
    let bin = s.path("bin");
    let sops = install_as(&bin, "sops");
    s.write(
        "vars.plain.yaml",
        b"db:\n    user: admin\n    password: hunter2\nreplicas: 3\n",
    );
    ok(
        &s.rsops(&[
            "encrypt",
            "--age",
            DEMO_RECIPIENT,
            "--output",
            "vars.sops.yaml",
            "vars.plain.yaml",
        ]),
        "rsops encrypt",
    );
    std::fs::remove_file(s.path("vars.plain.yaml")).unwrap();
    s.write(
        "play.yml",
        PLAYBOOK.replace("RECIPIENT", DEMO_RECIPIENT).as_bytes(),
    );
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    // The interpreter Ansible runs its modules with: the one it runs on
    // (interpreter discovery may pick a shim of another version).
    let interpreter = std::process::Command::new(super::servers::python())
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .expect("python");
    let out = s.run_env(
        &playbook,
        &["-i", "localhost,", "-c", "local", "play.yml"],
        Some(&demo_key_file()),
        &[
            ("PATH", path.as_os_str()),
            ("PYTHONUSERBASE", &python_user_base()),
            ("ANSIBLE_LOCAL_TEMP", s.path("ansible-tmp").as_os_str()),
            ("ANSIBLE_NOCOLOR", "1".as_ref()),
            ("ANSIBLE_HOST_KEY_CHECKING", "False".as_ref()),
            ("ANSIBLE_PYTHON_INTERPRETER", interpreter.as_ref()),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "ansible-playbook failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(s.path("out.txt")).unwrap(),
        "hunter2|admin|3\n"
    );
    let written = std::fs::read_to_string(s.path("written.sops.yaml")).unwrap();
    assert!(written.contains("token: ENC[AES256_GCM,"), "{written}");
    assert!(!written.contains("t0ken-from-ansible"), "{written}");
    let back = ok(
        &s.rsops(&["decrypt", "written.sops.yaml"]),
        "rsops decrypt of ansible's file",
    );
    assert_eq!(back, b"token: t0ken-from-ansible\n");
    if let Some(reference) = super::common::sops() {
        let back = ok(
            &s.sops(&reference, &["decrypt", "written.sops.yaml"]),
            "sops decrypt of ansible's file",
        );
        assert_eq!(back, b"token: t0ken-from-ansible\n");
    }
    drop(sops);
}
