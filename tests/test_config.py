from conftest import compose_config


def test_default_config_is_the_seed_gan():
    cfg = compose_config(run_dir="/tmp/x")
    assert (cfg.data.a_min, cfg.data.a_max, cfg.data.num_points) == (1.0, 2.0, 16)
    assert (cfg.data.batch_size, cfg.data.batches_per_epoch, cfg.trainer.max_epochs) == (32, 300, 20)
    hidden = (list(cfg.model.generator.hidden), list(cfg.model.discriminator.hidden))
    assert (cfg.model.latent_dim, *hidden) == (10, [32], [32])
    assert (cfg.model.g_lr, cfg.model.d_lr, list(cfg.model.betas)) == (2e-4, 2e-4, [0.5, 0.999])
    assert cfg.objective._target_ == "curvegan.objectives.NonSaturatingBCE" and cfg.model.d_steps == 1
    assert cfg.trainer.accelerator == "cpu"
    assert "tensorboard" in cfg.logger


def test_design_card_command_line_composes():
    cfg = compose_config("model.latent_dim=10", "trainer.accelerator=gpu", run_dir="/tmp/x")
    assert cfg.trainer.accelerator == "gpu" and cfg.model.latent_dim == 10
    assert compose_config("trainer=gpu", run_dir="/tmp/x").trainer.accelerator == "gpu"


def test_group_choices_and_interpolations_follow_overrides():
    cfg = compose_config("data.num_points=8", "logger=csv", "seed=7", run_dir="/tmp/x")
    assert cfg.data.num_points == 8 and cfg.seed == 7
    assert list(cfg.logger) == ["csv"]
    assert cfg.callbacks.checkpoint.dirpath == "/tmp/x/checkpoints"
    assert not compose_config("logger=none", run_dir="/tmp/x").get("logger")


def test_a_variant_states_only_what_differs_from_the_base_model():
    """model=cgan and model=infogan start from model=mlp and change a few keys; the rest is mlp's."""
    mlp, cgan, infogan = (compose_config(f"model={m}", run_dir="/tmp/x").model for m in ("mlp", "cgan", "infogan"))
    assert cgan.variant._target_.endswith("Conditional") and infogan.variant.codes == 1
    assert infogan.variant.info_weight == 2.0 and infogan.latent_dim == 4
    for model in (cgan, infogan):
        assert model.g_lr == mlp.g_lr and model.betas == mlp.betas and model.pack == mlp.pack


def test_the_trainers_keys_are_lightnings_and_take_lightnings_defaults(monkeypatch):
    """Every trainer key is an argument of lightning.pytorch.Trainer; those curvegan does not set take the default
    Lightning's own signature gives, read from it (a Lightning with another default gives that one)."""
    import inspect

    from lightning.pytorch import Trainer

    from curvegan import lightning_keys
    from curvegan.keys import keys_of

    signature = inspect.signature(Trainer).parameters
    declared = keys_of(lightning_keys.trainer_keys())
    assert set(declared) <= set(signature)
    for name in lightning_keys.PASSED:
        assert declared[name].default == signature[name].default, name
    changed = [p.replace(default=5) if p.name == "num_nodes" else p for p in signature.values()]
    monkeypatch.setattr(Trainer, "__signature__", inspect.Signature(changed), raising=False)
    lightning_keys.trainer_keys.cache_clear()
    try:
        assert keys_of(lightning_keys.trainer_keys())["num_nodes"].default == 5
    finally:
        monkeypatch.undo()
        lightning_keys.trainer_keys.cache_clear()
